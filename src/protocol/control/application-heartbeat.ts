/**
 * ApplicationHeartbeat (LifecycleManager → Master), method 12. An application
 * silent past the master's timeout expires; its shuffles are deleted.
 *
 *   request  := appId:string shuffleIds:u32[]
 *   response := empty
 *
 * `shuffleIds` lets a restarted master rebuild its view of the application.
 */
import { str, struct, u32Array } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const ApplicationHeartbeat = defineRpc(12, 'ApplicationHeartbeat', struct({ appId: str, shuffleIds: u32Array }), empty);
