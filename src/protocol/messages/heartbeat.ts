/**
 * Heartbeat: sent on an idle connection; a ping (pong = false) is answered
 * with a pong. Any frame received proves the peer alive.
 *
 *   header := pong:bool
 *   body   := (none)
 */
import { bool, struct } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const Heartbeat = defineMessage(MessageType.Heartbeat, 'Heartbeat', struct({ pong: bool }), false);
