/**
 * ApplicationRemoved (cluster manager → Worker), method 17: external shuffle
 * service mode. Forgets every executor of the application; with
 * cleanupLocalDirs, also deletes the local directories those executors
 * registered (and nothing else).
 *
 *   request  := appId:string cleanupLocalDirs:bool
 *   response := empty
 */
import { bool, str, struct } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const ApplicationRemoved = defineRpc(17, 'ApplicationRemoved', struct({ appId: str, cleanupLocalDirs: bool }), empty);
