/**
 * Structures shared by several control messages.
 *
 *   address           := host:string port:u16
 *   disk              := path:string totalBytes:u64 freeBytes:u64 healthy:bool
 *   slot              := primary:address hasReplica:bool [replica:address]
 *   location          := partitionId:u32 epoch:u32 primary:address hasReplica:bool [replica:address]
 *   fileId            := partitionId:u32 epoch:u32 mode:u8
 *   committedFile     := partitionId:u32 epoch:u32 mode:u8 bytes:u64 chunkOffsets:u64[] mapIds:u32[]
 *   empty             := (nothing)
 */
import { array, bool, optional, str, struct, u16, u32, u32Array, u64, u64Array, type Infer } from '../codec.js';
import { modeCodec } from '../messages/push-data.js';

export const address = struct({ host: str, port: u16 });
export type Address = Infer<typeof address>;

export const disk = struct({ path: str, totalBytes: u64, freeBytes: u64, healthy: bool });
export type DiskInfo = Infer<typeof disk>;

export const slot = struct({ primary: address, replica: optional(address) });
export type Slot = Infer<typeof slot>;

export const location = struct({ partitionId: u32, epoch: u32, primary: address, replica: optional(address) });
/** A partition location: one epoch of one partition, its primary and (optional) replica worker. */
export type PartitionLocation = Infer<typeof location>;

export const fileId = struct({ partitionId: u32, epoch: u32, mode: modeCodec });
export type FileId = Infer<typeof fileId>;

export const committedFile = struct({
  partitionId: u32,
  epoch: u32,
  mode: modeCodec,
  bytes: u64,
  chunkOffsets: u64Array,
  mapIds: u32Array,
});
export type CommittedFileInfo = Infer<typeof committedFile>;

export const empty = struct({});
export type Empty = Infer<typeof empty>;

export const addresses = array(address);

export function addressKey(a: Address): string {
  return `${a.host}:${a.port}`;
}

export function parseAddress(s: string): Address {
  const i = s.lastIndexOf(':');
  const port = Number(s.substring(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`bad address "${s}", expected host:port`);
  return { host: s.substring(0, i), port };
}

export function locationFileName(partitionId: number, epoch: number, mode: number): string {
  return `${partitionId}-${epoch}-${mode === 0 ? 'primary' : 'replica'}`;
}
