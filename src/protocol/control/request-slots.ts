/**
 * RequestSlots (LifecycleManager → Master), method 3.
 *
 *   request  := appId:string shuffleId:u32 count:u32 replicate:bool excluded:address[]
 *   response := slots:slot[count] spareWorkers:address[]
 *
 * The master only picks workers; the LifecycleManager assigns partitions and
 * epochs to the slots. A replica is always on another worker than its primary.
 */
import { array, bool, str, struct, u32 } from '../codec.js';
import { address, addresses, slot } from './common.js';
import { defineRpc } from './define.js';

export const RequestSlots = defineRpc(
  3,
  'RequestSlots',
  struct({ appId: str, shuffleId: u32, count: u32, replicate: bool, excluded: array(address) }),
  struct({ slots: array(slot), spareWorkers: addresses }),
);
