/**
 * GetReducerFileGroup (ShuffleClient → LifecycleManager), method 10. Answered
 * once the shuffle's stage has ended and its files are committed.
 *
 *   request  := shuffleId:u32 startPartition:u32 endPartition:u32   ([start, end))
 *   response := mapAttempts:i32[] partitions:partitionGroup[]
 *   partitionGroup := partitionId:u32 files:reducerFile[] expected:mapSum[] lost:bool
 *   reducerFile := epoch:u32 mode:u8 address bytes:u64 numChunks:u32
 *   mapSum := mapId:u32 batches:u32 bytes:u64 crc:u32
 *
 * `mapAttempts[mapId]` is each map's winning attempt; readers drop batches of
 * any other attempt. `files` lists every committed copy of every epoch (a
 * reader reads one copy per epoch). `expected` is what the winners reported
 * at MapperEnd for this partition. `lost` means some epoch has no committed copy.
 */
import { array, bool, i32Array, struct, u32, u64, type Infer } from '../codec.js';
import { modeCodec } from '../messages/push-data.js';
import { address } from './common.js';
import { defineRpc } from './define.js';

export const reducerFile = struct({ epoch: u32, mode: modeCodec, address, bytes: u64, numChunks: u32 });
export type ReducerFile = Infer<typeof reducerFile>;
export const mapSum = struct({ mapId: u32, batches: u32, bytes: u64, crc: u32 });
export type MapSum = Infer<typeof mapSum>;
export const partitionGroup = struct({ partitionId: u32, files: array(reducerFile), expected: array(mapSum), lost: bool });
export type PartitionGroup = Infer<typeof partitionGroup>;

export const GetReducerFileGroup = defineRpc(
  10,
  'GetReducerFileGroup',
  struct({ shuffleId: u32, startPartition: u32, endPartition: u32 }),
  struct({ mapAttempts: i32Array, partitions: array(partitionGroup) }),
);
