/**
 * ChunkFetchFailure: a chunk could not be served.
 *
 *   header := streamId:u64 chunkIndex:u32 code:string message:string retriable:bool
 *   body   := (none)
 */
import { bool, str, struct, u32, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const ChunkFetchFailure = defineMessage(
  MessageType.ChunkFetchFailure,
  'ChunkFetchFailure',
  struct({ streamId: u64, chunkIndex: u32, code: str, message: str, retriable: bool }),
  false,
);
