/**
 * RpcFailure: the failed answer to any request that carries a request id
 * (RpcRequest, PushData, PushMergedData, OpenStream).
 *
 *   header := requestId:u64 code:string message:string retriable:bool
 *   body   := (none)
 */
import { bool, str, struct, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const RpcFailure = defineMessage(
  MessageType.RpcFailure,
  'RpcFailure',
  struct({ requestId: u64, code: str, message: str, retriable: bool }),
  false,
);
