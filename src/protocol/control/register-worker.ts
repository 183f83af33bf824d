/**
 * RegisterWorker (Worker → Master), method 1.
 *
 *   request  := address disks:disk[]
 *   response := heartbeatIntervalMs:u32
 */
import { array, struct, u32 } from '../codec.js';
import { address, disk } from './common.js';
import { defineRpc } from './define.js';

export const RegisterWorker = defineRpc(1, 'RegisterWorker', struct({ address, disks: array(disk) }), struct({ heartbeatIntervalMs: u32 }));
