/**
 * Revive (ShuffleClient → LifecycleManager), method 8: move partitions to a
 * new epoch after a split or a failed push. Concurrent requests for the same
 * (partition, old epoch) share one new location.
 *
 *   request  := shuffleId:u32 requests:reviveRequest[]
 *   reviveRequest := partitionId:u32 epoch:u32 mapId:u32 attemptId:u32 cause:u8
 *   response := results:reviveResult[]   (same order as requests)
 *   reviveResult := status:u8 hasLocation:bool [location]
 *
 * `cause` is the push status that triggered the revive. `status` is SUCCESS
 * with the newest location, or MAP_ENDED (drop the data), or a failure code.
 */
import { array, optional, struct, u32, u8 } from '../codec.js';
import { location } from './common.js';
import { defineRpc } from './define.js';

export const Revive = defineRpc(
  8,
  'Revive',
  struct({ shuffleId: u32, requests: array(struct({ partitionId: u32, epoch: u32, mapId: u32, attemptId: u32, cause: u8 })) }),
  struct({ results: array(struct({ status: u8, location: optional(location) })) }),
);
