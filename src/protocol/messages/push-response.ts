/**
 * PushResponse: the answer to PushData (one status) or PushMergedData (one
 * status per batch, in order). Statuses are the codes of ../status.ts.
 *
 *   header := requestId:u64 statuses:bytes   (bytes = u32 length + u8 each)
 *   body   := (none)
 */
import { bytes, struct, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const PushResponse = defineMessage(MessageType.PushResponse, 'PushResponse', struct({ requestId: u64, statuses: bytes }), false);
