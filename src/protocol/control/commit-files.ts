/**
 * CommitFiles (LifecycleManager → Worker), method 5. Idempotent per
 * (shuffle, partition, epoch, mode): committing again returns the same result.
 *
 *   request  := appId:string shuffleId:u32 files:fileId[] mapAttempts:i32[]
 *   response := committed:committedFile[] failed:fileId[]
 *
 * `mapAttempts[mapId]` is the winning attempt of each map (-1 if none); after
 * commit the worker answers MAP_ENDED to late pushes of those maps.
 */
import { array, i32Array, str, struct, u32 } from '../codec.js';
import { committedFile, fileId } from './common.js';
import { defineRpc } from './define.js';

export const CommitFiles = defineRpc(
  5,
  'CommitFiles',
  struct({ appId: str, shuffleId: u32, files: array(fileId), mapAttempts: i32Array }),
  struct({ committed: array(committedFile), failed: array(fileId) }),
);
