/**
 * Handshake (client → server), the first frame of every connection.
 *
 *   header := version:u8 role:u8 appId:string nonce:bytes
 *   body   := (none)
 *
 * `appId` is the application an application role (Client, LifecycleManager)
 * acts for, empty for cluster roles. `nonce` is 32 random bytes, the
 * client's half of the challenge (see HandshakeChallenge). No secret or
 * token travels in any handshake frame.
 */
import { bytes, str, struct, u8 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const Handshake = defineMessage(MessageType.Handshake, 'Handshake', struct({ version: u8, role: u8, appId: str, nonce: bytes }), false);
