/**
 * PushData: one batch for one partition location.
 *
 *   header := requestId:u64 shuffleKey:string partitionId:u32 epoch:u32 mode:u8
 *   body   := batch (16-byte batch header + payload, see ../batch-header.ts)
 *
 * `mode` says which copy the receiver holds: a client pushes to the primary
 * (mode 0); a primary forwards to its replica with mode 1.
 */
import { enumU8, str, struct, u32, u64 } from '../codec.js';
import { ALL_MODES, MessageType, type Mode } from '../types.js';
import { defineMessage } from './define.js';

export const modeCodec = enumU8<Mode>(ALL_MODES, 'mode');

export const PushData = defineMessage(
  MessageType.PushData,
  'PushData',
  struct({ requestId: u64, shuffleKey: str, partitionId: u32, epoch: u32, mode: modeCodec }),
  true,
);
