import { crc32 } from 'node:zlib';
import { ErrorCodes, ProtocolError } from './errors.js';

/**
 * The payload of a batch as written by ShuffleClient (workers never look
 * inside it):
 *
 *   payload := codec:u8 rawLength:u32 crc:u32 data[...]
 *
 * `crc` is the CRC32 of `data` (the compressed bytes), so corruption is found
 * before decompression is tried; `rawLength` is the size after decompression.
 */
export const BatchCodec = { None: 0, Lz4: 1, Zstd: 2 } as const;
export type CodecId = (typeof BatchCodec)[keyof typeof BatchCodec];
export const PAYLOAD_HEADER_SIZE = 9;

export interface PayloadHeader {
  codec: CodecId;
  rawLength: number;
  crc: number;
}

export function writePayloadHeader(buf: Buffer, at: number, codec: CodecId, rawLength: number, data: Uint8Array): void {
  buf[at] = codec;
  buf.writeUInt32BE(rawLength, at + 1);
  buf.writeUInt32BE(crc32(data), at + 5);
}

/** The CRC32 a payload carries (of its compressed data), without verifying it. */
export function payloadCrc(payload: Buffer): number {
  return payload.readUInt32BE(5);
}

/** Parses and verifies a payload; returns its header and a view of its data. */
export function openPayload(payload: Buffer): { header: PayloadHeader; data: Buffer } {
  if (payload.length < PAYLOAD_HEADER_SIZE) throw new ProtocolError(`batch payload of ${payload.length} bytes is too short`, ErrorCodes.CORRUPT_BATCH);
  const codec = payload[0]!;
  if (codec !== BatchCodec.None && codec !== BatchCodec.Lz4 && codec !== BatchCodec.Zstd) {
    throw new ProtocolError(`unknown batch codec ${codec}`, ErrorCodes.CORRUPT_BATCH);
  }
  const rawLength = payload.readUInt32BE(1);
  const crc = payload.readUInt32BE(5);
  const data = payload.subarray(PAYLOAD_HEADER_SIZE);
  if (crc32(data) !== crc) throw new ProtocolError('batch checksum mismatch', ErrorCodes.CORRUPT_BATCH);
  if (codec === BatchCodec.None && rawLength !== data.length) throw new ProtocolError('uncompressed batch length mismatch', ErrorCodes.CORRUPT_BATCH);
  return { header: { codec, rawLength, crc }, data };
}
