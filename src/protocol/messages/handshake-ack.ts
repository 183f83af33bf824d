/**
 * HandshakeAck (server → client), the answer to Handshake.
 *
 *   header := version:u8 role:u8 ok:bool code:string message:string heartbeatIntervalMs:u32
 *   body   := (none)
 *
 * When `ok` is false, `code` is a catalogue error code and the server closes
 * the connection after sending it.
 */
import { bool, str, struct, u32, u8 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const HandshakeAck = defineMessage(
  MessageType.HandshakeAck,
  'HandshakeAck',
  struct({ version: u8, role: u8, ok: bool, code: str, message: str, heartbeatIntervalMs: u32 }),
  false,
);
