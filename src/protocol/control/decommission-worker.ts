/**
 * DecommissionWorker (admin → Worker), method 20: takes the worker out of
 * service without losing data. It answers at once; the worker then stops
 * taking slots and pushes, serves reads until every shuffle with data on it
 * is unregistered or expired (or its deadline passes), and exits.
 *
 *   request  := empty
 *   response := json:bytes   (UTF-8 JSON: the worker's state and what it waits for)
 */
import { bytes, struct } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const DecommissionWorker = defineRpc(20, 'DecommissionWorker', empty, struct({ json: bytes }));
