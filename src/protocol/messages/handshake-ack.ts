/**
 * HandshakeAck (server → client), the last frame of the handshake.
 *
 *   header := version:u8 role:u8 ok:bool code:string message:string heartbeatIntervalMs:u32 proof:bytes
 *   body   := (none)
 *
 * When `ok` is false, `code` is a catalogue error code and the server closes
 * the connection after sending it; a refusal may come instead of the
 * challenge (unknown role, version, connection limits) or after the proof.
 * When `ok` is true, `proof` is the server's HMAC of the transcript under
 * the same key (empty when the server does not authenticate), so the client
 * knows it reached a holder of the key.
 */
import { bool, bytes, str, struct, u32, u8 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const HandshakeAck = defineMessage(
  MessageType.HandshakeAck,
  'HandshakeAck',
  struct({ version: u8, role: u8, ok: bool, code: str, message: str, heartbeatIntervalMs: u32, proof: bytes }),
  false,
);
