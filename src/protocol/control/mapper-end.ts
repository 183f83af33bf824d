/**
 * MapperEnd (ShuffleClient → LifecycleManager), method 9: sent once every push
 * of the attempt was acknowledged. The first attempt of a map to end wins.
 *
 *   request  := shuffleId:u32 mapId:u32 attemptId:u32 numMappers:u32 partitions:partitionSum[] epochs:epochRef[]
 *   partitionSum := partitionId:u32 batches:u32 bytes:u64 crc:u32
 *   epochRef := partitionId:u32 epoch:u32
 *   response := winner:bool allMappersEnded:bool
 *
 * `bytes` counts the uncompressed records the attempt pushed to the
 * partition; `crc` is the sum mod 2^32 of the CRC32 each batch's payload
 * carries (of the bytes as pushed, compressed), so it does not
 * depend on the order batches are read back.
 *
 * `epochs` lists every (partition, epoch) in which a batch of the attempt
 * was acknowledged. An epoch no winner lists holds no data a reader needs,
 * so it is not lost when no copy of it commits. A partition with batches
 * and no entry here may have data in any epoch.
 */
import { array, bool, struct, u32, u64, type Infer } from '../codec.js';
import { defineRpc } from './define.js';

export const partitionSum = struct({ partitionId: u32, batches: u32, bytes: u64, crc: u32 });
export type PartitionSum = Infer<typeof partitionSum>;

export const epochRef = struct({ partitionId: u32, epoch: u32 });
export type EpochRef = Infer<typeof epochRef>;

export const MapperEnd = defineRpc(
  9,
  'MapperEnd',
  struct({ shuffleId: u32, mapId: u32, attemptId: u32, numMappers: u32, partitions: array(partitionSum), epochs: array(epochRef) }),
  struct({ winner: bool, allMappersEnded: bool }),
);
