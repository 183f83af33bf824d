/**
 * ReserveSlots (LifecycleManager → Worker), method 4. All or nothing.
 *
 *   request  := appId:string shuffleId:u32 files:reservedFile[] splitThreshold:u64
 *   reservedFile := partitionId:u32 epoch:u32 mode:u8 hasPeer:bool [peer:address]
 *   response := empty
 *
 * For a primary, `peer` is the replica to forward pushes to. splitThreshold 0
 * means the worker's default.
 */
import { array, optional, str, struct, u32, u64, type Infer } from '../codec.js';
import { modeCodec } from '../messages/push-data.js';
import { address, empty } from './common.js';
import { defineRpc } from './define.js';

export const reservedFile = struct({ partitionId: u32, epoch: u32, mode: modeCodec, peer: optional(address) });
export type ReservedFile = Infer<typeof reservedFile>;

export const ReserveSlots = defineRpc(
  4,
  'ReserveSlots',
  struct({ appId: str, shuffleId: u32, files: array(reservedFile), splitThreshold: u64 }),
  empty,
);
