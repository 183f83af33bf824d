import { createRequire } from 'node:module';
import { crc32 } from 'node:zlib';
import { compress as lz4Compress, uncompressSync as lz4Uncompress } from 'lz4-napi';
import {
  BATCH_HEADER_SIZE,
  BatchCodec,
  ErrorCodes,
  PAYLOAD_HEADER_SIZE,
  ProtocolError,
  openPayload,
  type CodecId,
} from '../../protocol/index.js';

// The package's main entry ignores the level (always 3); its bindings module honours it.
const require = createRequire(import.meta.url);
const zstd = require('@mongodb-js/zstd/bindings.js') as {
  compress(data: Buffer, level: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
};

export const CODEC_IDS = { none: BatchCodec.None, lz4: BatchCodec.Lz4, zstd: BatchCodec.Zstd } as const;

/**
 * Compresses one record block. lz4's async compress is used on purpose: its
 * compressSync leaks about its output size per call (lz4-napi 2.10).
 */
export async function compressBlock(codec: CodecId, data: Buffer, zstdLevel: number): Promise<Buffer> {
  switch (codec) {
    case BatchCodec.Lz4:
      return lz4Compress(data);
    case BatchCodec.Zstd:
      return zstd.compress(data, zstdLevel);
    default:
      return data;
  }
}

/**
 * Builds a whole batch: 16-byte batch header space (filled by the caller,
 * who knows the ids), then the payload header and the compressed data.
 * One copy of the compressed bytes, into a buffer of the exact size.
 */
export function assembleBatch(codec: CodecId, rawLength: number, compressed: Uint8Array): Buffer {
  const batch = Buffer.allocUnsafe(BATCH_HEADER_SIZE + PAYLOAD_HEADER_SIZE + compressed.length);
  batch[BATCH_HEADER_SIZE] = codec;
  batch.writeUInt32BE(rawLength, BATCH_HEADER_SIZE + 1);
  batch.writeUInt32BE(crc32(compressed), BATCH_HEADER_SIZE + 5);
  batch.set(compressed, BATCH_HEADER_SIZE + PAYLOAD_HEADER_SIZE);
  return batch;
}

/** Verifies and decompresses one batch payload. Corruption is CORRUPT_BATCH or DECOMPRESS, never returned data. */
export async function decodePayload(payload: Buffer): Promise<Buffer> {
  const { header, data } = openPayload(payload);
  let raw: Buffer;
  try {
    if (header.codec === BatchCodec.None) return data;
    raw = header.codec === BatchCodec.Lz4 ? lz4Uncompress(data) : await zstd.decompress(data);
  } catch (err) {
    throw new ProtocolError(`batch does not decompress: ${(err as Error).message}`, ErrorCodes.DECOMPRESS);
  }
  if (raw.length !== header.rawLength) throw new ProtocolError(`batch decompressed to ${raw.length} bytes, expected ${header.rawLength}`, ErrorCodes.DECOMPRESS);
  return raw;
}
