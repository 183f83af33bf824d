/**
 * PushMergedData: several batches, each for its own location on the same
 * worker, in one frame.
 *
 *   header := requestId:u64 shuffleKey:string mode:u8
 *             partitionIds:u32[] epochs:u32[] offsets:u32[]
 *   body   := batch*   (batch i starts at offsets[i] and ends where batch i+1 starts)
 *
 * Arrays are u32 count + items; the three counts are equal and offsets are
 * ascending, starting at 0 (checked by validateMergedOffsets).
 */
import { ProtocolError } from '../errors.js';
import { str, struct, u32Array, u64 } from '../codec.js';
import { MessageType } from '../types.js';
import { defineMessage } from './define.js';
import { modeCodec } from './push-data.js';

export const PushMergedData = defineMessage(
  MessageType.PushMergedData,
  'PushMergedData',
  struct({ requestId: u64, shuffleKey: str, mode: modeCodec, partitionIds: u32Array, epochs: u32Array, offsets: u32Array }),
  true,
);

export function validateMergedOffsets(partitionIds: number[], epochs: number[], offsets: number[], bodyLength: number): void {
  const n = partitionIds.length;
  if (epochs.length !== n || offsets.length !== n) throw new ProtocolError('PushMergedData: array lengths differ');
  if (n === 0) throw new ProtocolError('PushMergedData: no batches');
  if (offsets[0] !== 0) throw new ProtocolError('PushMergedData: first offset is not 0');
  for (let i = 1; i < n; i++) {
    if (offsets[i]! <= offsets[i - 1]!) throw new ProtocolError('PushMergedData: offsets not ascending');
  }
  if (offsets[n - 1]! >= bodyLength) throw new ProtocolError('PushMergedData: offset past body');
}
