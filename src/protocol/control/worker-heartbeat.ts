/**
 * WorkerHeartbeat (Worker → Master), method 2.
 *
 *   request  := address disks:disk[] activeShuffleKeys:string[] shuttingDown:bool essAppIds:string[]
 *   response := registered:bool expiredShuffleKeys:string[] expiredAppIds:string[]
 *
 * `registered` false means the master does not know this worker (it
 * restarted): the worker registers again. The worker deletes every shuffle in
 * `expiredShuffleKeys`. `essAppIds` are the applications with executors
 * registered in the worker's external shuffle service; `expiredAppIds` are
 * those of them the master has expired, which the worker removes (as
 * ApplicationRemoved with cleanup would).
 */
import { array, bool, strArray, struct } from '../codec.js';
import { address, disk } from './common.js';
import { defineRpc } from './define.js';

export const WorkerHeartbeat = defineRpc(
  2,
  'WorkerHeartbeat',
  struct({ address, disks: array(disk), activeShuffleKeys: strArray, shuttingDown: bool, essAppIds: strArray }),
  struct({ registered: bool, expiredShuffleKeys: strArray, expiredAppIds: strArray }),
);
