/**
 * ChunkFetchSuccess: one chunk.
 *
 *   header := streamId:u64 chunkIndex:u32
 *   body   := the chunk: whole batches, each a 16-byte batch header + payload
 */
import { MessageType } from '../types.js';
import { streamChunk } from './chunk-fetch-request.js';
import { defineMessage } from './define.js';

export const ChunkFetchSuccess = defineMessage(MessageType.ChunkFetchSuccess, 'ChunkFetchSuccess', streamChunk, true);
