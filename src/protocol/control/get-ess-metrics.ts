/**
 * GetEssMetrics (admin → Worker), method 19: counters of the external
 * shuffle service (registered executors, blocks opened, bytes fetched,
 * index cache hits and misses, chunks being transferred).
 *
 *   request  := empty
 *   response := json:bytes   (UTF-8 JSON)
 */
import { bytes, struct } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const GetEssMetrics = defineRpc(19, 'GetEssMetrics', empty, struct({ json: bytes }));
