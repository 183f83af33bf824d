/**
 * HandshakeProof (client → server), the answer to HandshakeChallenge.
 *
 *   header := proof:bytes
 *   body   := (none)
 *
 * `proof` is HMAC-SHA256 under the client's key of the handshake transcript
 * (both nonces, both roles, the appId; see src/security/keys.ts), or empty
 * when the client has no key. A request may follow it right away, before the
 * HandshakeAck arrives: the server serves it once the proof is accepted.
 */
import { bytes, struct } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const HandshakeProof = defineMessage(MessageType.HandshakeProof, 'HandshakeProof', struct({ proof: bytes }), false);
