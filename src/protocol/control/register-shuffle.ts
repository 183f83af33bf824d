/**
 * RegisterShuffle (ShuffleClient → LifecycleManager), method 7. Single-flight
 * per shuffle; every caller gets the same locations.
 *
 *   request  := shuffleId:u32 numMappers:u32 numPartitions:u32
 *   response := locations:location[numPartitions]   (the current epoch of each partition)
 */
import { array, struct, u32 } from '../codec.js';
import { location } from './common.js';
import { defineRpc } from './define.js';

export const RegisterShuffle = defineRpc(
  7,
  'RegisterShuffle',
  struct({ shuffleId: u32, numMappers: u32, numPartitions: u32 }),
  struct({ locations: array(location) }),
);
