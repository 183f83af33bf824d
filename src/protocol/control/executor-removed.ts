/**
 * ExecutorRemoved (cluster manager → Worker), method 18: external shuffle
 * service mode. The executor exited; its map outputs stay registered and
 * served (that is what the service is for), while the other files it left
 * in its local directories (spills, temporary blocks) are deleted.
 *
 *   request  := appId:string execId:string
 *   response := empty
 */
import { str, struct } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const ExecutorRemoved = defineRpc(18, 'ExecutorRemoved', struct({ appId: str, execId: str }), empty);
