/**
 * WorkerHeartbeat (Worker → Master), method 2.
 *
 *   request  := address disks:disk[] activeShuffleKeys:string[] shuttingDown:bool
 *   response := registered:bool expiredShuffleKeys:string[]
 *
 * `registered` false means the master does not know this worker (it
 * restarted): the worker registers again. The worker deletes every shuffle in
 * `expiredShuffleKeys`.
 */
import { array, bool, strArray, struct } from '../codec.js';
import { address, disk } from './common.js';
import { defineRpc } from './define.js';

export const WorkerHeartbeat = defineRpc(
  2,
  'WorkerHeartbeat',
  struct({ address, disks: array(disk), activeShuffleKeys: strArray, shuttingDown: bool }),
  struct({ registered: bool, expiredShuffleKeys: strArray }),
);
