/**
 * Handshake (client → server), the first frame of every connection.
 *
 *   header := version:u8 role:u8 appId:string token:string
 *   body   := (none)
 *
 * `appId` is empty for cluster-internal roles; `token` is empty when
 * authentication is off.
 */
import { str, struct, u8 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const Handshake = defineMessage(
  MessageType.Handshake,
  'Handshake',
  struct({ version: u8, role: u8, appId: str, token: str }),
  false,
);
