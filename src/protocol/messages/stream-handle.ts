/**
 * StreamHandle: the answer to OpenStream.
 *
 *   header := requestId:u64 streamId:u64 numChunks:u32 totalBytes:u64
 *   body   := (none)
 */
import { struct, u32, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const StreamHandle = defineMessage(
  MessageType.StreamHandle,
  'StreamHandle',
  struct({ requestId: u64, streamId: u64, numChunks: u32, totalBytes: u64 }),
  false,
);
