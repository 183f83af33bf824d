/**
 * RpcResponse: the successful answer to an RpcRequest with the same id.
 *
 *   header := requestId:u64 method:u16
 *   body   := the method's response payload (see ../control)
 */
import { struct, u16, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const RpcResponse = defineMessage(MessageType.RpcResponse, 'RpcResponse', struct({ requestId: u64, method: u16 }), true);
