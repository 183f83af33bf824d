/**
 * HandshakeChallenge (server → client), the answer to an acceptable Handshake.
 *
 *   header := version:u8 role:u8 auth:bool nonce:bytes
 *   body   := (none)
 *
 * `role` is the server's own role. `auth` says whether the server checks the
 * client's proof (false only on a server started without authentication).
 * `nonce` is 32 random bytes, the server's half of the challenge.
 */
import { bool, bytes, struct, u8 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const HandshakeChallenge = defineMessage(
  MessageType.HandshakeChallenge,
  'HandshakeChallenge',
  struct({ version: u8, role: u8, auth: bool, nonce: bytes }),
  false,
);
