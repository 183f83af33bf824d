/**
 * WorkerHeartbeat (Worker → Master), method 2.
 *
 *   request  := address disks:disk[] activeShuffleKeys:string[] shuttingDown:bool essAppIds:string[] shuffleSlots:u32[]
 *   response := registered:bool expiredShuffleKeys:string[] expiredAppIds:string[]
 *
 * `registered` false means the master does not know this worker (it
 * restarted): the worker registers again. The worker deletes every shuffle in
 * `expiredShuffleKeys`. `essAppIds` are the applications with executors
 * registered in the worker's external shuffle service; `expiredAppIds` are
 * those of them the master has expired, which the worker removes (as
 * ApplicationRemoved with cleanup would). `shuffleSlots[i]` is the number of
 * files (reserved slots, primaries and replicas) the worker holds for
 * `activeShuffleKeys[i]`: a new leader rebuilds its slot ledger from them.
 * The two arrays have the same length.
 */
import { array, bool, strArray, struct, u32Array } from '../codec.js';
import { address, disk } from './common.js';
import { defineRpc } from './define.js';

export const WorkerHeartbeat = defineRpc(
  2,
  'WorkerHeartbeat',
  struct({ address, disks: array(disk), activeShuffleKeys: strArray, shuttingDown: bool, essAppIds: strArray, shuffleSlots: u32Array }),
  struct({ registered: bool, expiredShuffleKeys: strArray, expiredAppIds: strArray }),
);
