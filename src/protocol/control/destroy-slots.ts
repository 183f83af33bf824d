/**
 * DestroySlots (LifecycleManager → Worker), method 6: drop reserved or
 * written files (rollback of a partial reservation, or cleanup).
 *
 *   request  := appId:string shuffleId:u32 files:fileId[]
 *   response := empty
 */
import { array, str, struct, u32 } from '../codec.js';
import { empty, fileId } from './common.js';
import { defineRpc } from './define.js';

export const DestroySlots = defineRpc(6, 'DestroySlots', struct({ appId: str, shuffleId: u32, files: array(fileId) }), empty);
