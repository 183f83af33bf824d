/**
 * OpenStream: open a committed partition file for chunked reading.
 *
 *   header := requestId:u64 shuffleKey:string fileName:string startMapIndex:u32 endMapIndex:u32
 *   body   := (none)
 *
 * `fileName` is `<partitionId>-<epoch>-<primary|replica>`. The map range is
 * [startMapIndex, endMapIndex); endMapIndex = 0xffffffff (ALL_MAPS) with
 * startMapIndex = 0 reads the whole file without sorting.
 */
import { str, struct, u32, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';

export const OpenStream = defineMessage(
  MessageType.OpenStream,
  'OpenStream',
  struct({ requestId: u64, shuffleKey: str, fileName: str, startMapIndex: u32, endMapIndex: u32 }),
  false,
);
