/**
 * ChunkFetchRequest: ask for one chunk of an open stream. Answers are keyed
 * by (streamId, chunkIndex), not by a request id.
 *
 *   header := streamId:u64 chunkIndex:u32
 *   body   := (none)
 */
import { struct, u32, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const streamChunk = struct({ streamId: u64, chunkIndex: u32 });

export const ChunkFetchRequest = defineMessage(MessageType.ChunkFetchRequest, 'ChunkFetchRequest', streamChunk, false);
