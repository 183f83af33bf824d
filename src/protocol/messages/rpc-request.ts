/**
 * RpcRequest: a control call.
 *
 *   header := requestId:u64 method:u16
 *   body   := the method's request payload (see ../control)
 */
import { struct, u16, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const RpcRequest = defineMessage(MessageType.RpcRequest, 'RpcRequest', struct({ requestId: u64, method: u16 }), true);
