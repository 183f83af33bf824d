/**
 * OpenBlocks (reducer → Worker), method 16: external shuffle service mode.
 * Opens a stream over map output blocks an executor wrote on this host.
 *
 *   request  := appId:string execId:string blockIds:string[]
 *   response := streamId:u64 numChunks:u32
 *
 * A block id is "shuffle_<shuffleId>_<mapId>_<reduceId>" (decimal). Chunk i
 * of the stream is block i, fetched with ChunkFetchRequest(streamId, i); an
 * empty block is an empty chunk. The stream dies with the connection.
 */
import { str, strArray, struct, u32, u64 } from '../codec.js';
import { defineRpc } from './define.js';

export const OpenBlocks = defineRpc(
  16,
  'OpenBlocks',
  struct({ appId: str, execId: str, blockIds: strArray }),
  struct({ streamId: u64, numChunks: u32 }),
);
