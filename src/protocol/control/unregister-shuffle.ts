/**
 * UnregisterShuffle (engine → LifecycleManager, and LifecycleManager →
 * Master), method 11: the shuffle's files are deleted on every worker.
 *
 *   request  := appId:string shuffleId:u32
 *   response := empty
 */
import { str, struct, u32 } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const UnregisterShuffle = defineRpc(11, 'UnregisterShuffle', struct({ appId: str, shuffleId: u32 }), empty);
