/**
 * GetStatus (admin → Master or Worker), method 14: a JSON snapshot of the
 * process's state (workers, applications, shuffles).
 *
 *   request  := empty
 *   response := json:bytes   (UTF-8 JSON)
 */
import { bytes, struct } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const GetStatus = defineRpc(14, 'GetStatus', empty, struct({ json: bytes }));
