import { ProtocolError } from './errors.js';

/**
 * The 16-byte header in front of every batch, big-endian:
 *
 *   batchHeader := mapId:u32 attemptId:u32 batchId:u32 length:u32
 *   batch       := batchHeader payload[length]
 *
 * `batchId` is unique per (mapId, attemptId). Partition files, chunks and
 * push bodies are all sequences of batches.
 */
export const BATCH_HEADER_SIZE = 16;

export interface BatchHeader {
  mapId: number;
  attemptId: number;
  batchId: number;
  length: number;
}

export function writeBatchHeader(buf: Buffer, at: number, h: BatchHeader): void {
  buf.writeUInt32BE(h.mapId, at);
  buf.writeUInt32BE(h.attemptId, at + 4);
  buf.writeUInt32BE(h.batchId, at + 8);
  buf.writeUInt32BE(h.length, at + 12);
}

export function encodeBatchHeader(h: BatchHeader): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
  writeBatchHeader(buf, 0, h);
  return buf;
}

export function readBatchHeader(buf: Buffer, at: number): BatchHeader {
  if (at + BATCH_HEADER_SIZE > buf.length) throw new ProtocolError(`truncated batch header at ${at}`);
  return {
    mapId: buf.readUInt32BE(at),
    attemptId: buf.readUInt32BE(at + 4),
    batchId: buf.readUInt32BE(at + 8),
    length: buf.readUInt32BE(at + 12),
  };
}

/**
 * Walks a buffer of whole batches, calling `visit` with each header and a
 * view of its payload. A batch running past the end is a ProtocolError.
 */
export function forEachBatch(buf: Buffer, visit: (h: BatchHeader, payload: Buffer, offset: number) => void): number {
  let at = 0;
  let count = 0;
  while (at < buf.length) {
    const h = readBatchHeader(buf, at);
    const start = at + BATCH_HEADER_SIZE;
    const end = start + h.length;
    if (end > buf.length) throw new ProtocolError(`batch at ${at} claims ${h.length} bytes, ${buf.length - start} remain`);
    visit(h, buf.subarray(start, end), at);
    at = end;
    count++;
  }
  return count;
}

/** Checks that a body holds exactly one whole batch; returns its header. */
export function checkSingleBatch(body: Buffer): BatchHeader {
  const h = readBatchHeader(body, 0);
  if (BATCH_HEADER_SIZE + h.length !== body.length) {
    throw new ProtocolError(`batch length ${h.length} does not match body of ${body.length} bytes`);
  }
  return h;
}
