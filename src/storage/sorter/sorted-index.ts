/**
 * The index written next to a map-sorted partition file (`<file>.sorted.index`).
 * All integers big-endian; a u64 is written as two u32 (high, low), values
 * stay below 2^53.
 *
 *   index   := header maps offsets
 *   header  := magic:u32 ("BRSI") version:u32 sourceBytes:u64 batchCount:u32 mapCount:u32 reserved:u64
 *   maps    := mapCount x (mapId:u32 firstBatch:u32)      ascending mapId
 *   offsets := (batchCount + 1) x offset:u64               ascending
 *
 * The sorted file holds the same batches as the source file (so its size is
 * sourceBytes), grouped by mapId ascending, each map's batches in their
 * original relative order. Batch b starts at offsets[b]; offsets[batchCount]
 * is sourceBytes. Map k owns batches [firstBatch_k, firstBatch_(k+1)), where
 * firstBatch_mapCount = batchCount.
 *
 * This module runs in the sort worker thread too, so it imports only Node
 * built-ins (see task-file.ts).
 */

export const INDEX_MAGIC = 0x42525349;
export const INDEX_VERSION = 1;
export const INDEX_HEADER_SIZE = 32;

export interface SortedIndex {
  sourceBytes: number;
  /** Ascending, unique. */
  mapIds: Uint32Array;
  /** mapIds.length + 1 entries; the last is the batch count. */
  mapFirstBatch: Uint32Array;
  /** batchCount + 1 entries; the last is sourceBytes. */
  batchOffsets: Float64Array;
}

const TWO_32 = 0x1_0000_0000;

function writeU64(buf: Buffer, v: number, at: number): void {
  buf.writeUInt32BE(Math.floor(v / TWO_32), at);
  buf.writeUInt32BE(v >>> 0, at + 4);
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

export function indexSize(mapCount: number, batchCount: number): number {
  return INDEX_HEADER_SIZE + 8 * mapCount + 8 * (batchCount + 1);
}

export function encodeSortedIndex(ix: SortedIndex): Buffer {
  const mapCount = ix.mapIds.length;
  const batchCount = ix.batchOffsets.length - 1;
  const buf = Buffer.allocUnsafe(indexSize(mapCount, batchCount));
  buf.writeUInt32BE(INDEX_MAGIC, 0);
  buf.writeUInt32BE(INDEX_VERSION, 4);
  writeU64(buf, ix.sourceBytes, 8);
  buf.writeUInt32BE(batchCount, 16);
  buf.writeUInt32BE(mapCount, 20);
  writeU64(buf, 0, 24);
  let at = INDEX_HEADER_SIZE;
  for (let k = 0; k < mapCount; k++, at += 8) {
    buf.writeUInt32BE(ix.mapIds[k], at);
    buf.writeUInt32BE(ix.mapFirstBatch[k], at + 4);
  }
  for (let b = 0; b <= batchCount; b++, at += 8) writeU64(buf, ix.batchOffsets[b], at);
  if (at !== buf.length) throw new Error(`index encoder wrote ${at} of ${buf.length} bytes`);
  return buf;
}

/** Decodes and checks an index; throws a plain Error describing the first inconsistency. */
export function decodeSortedIndex(buf: Buffer): SortedIndex {
  if (buf.length < INDEX_HEADER_SIZE) throw new Error(`index of ${buf.length} bytes is shorter than its header`);
  if (buf.readUInt32BE(0) !== INDEX_MAGIC) throw new Error('index magic mismatch');
  const version = buf.readUInt32BE(4);
  if (version !== INDEX_VERSION) throw new Error(`index version ${version}, expected ${INDEX_VERSION}`);
  const sourceBytes = readU64(buf, 8);
  const batchCount = buf.readUInt32BE(16);
  const mapCount = buf.readUInt32BE(20);
  if (buf.length !== indexSize(mapCount, batchCount)) {
    throw new Error(`index of ${buf.length} bytes does not fit ${mapCount} maps and ${batchCount} batches`);
  }
  const mapIds = new Uint32Array(mapCount);
  const mapFirstBatch = new Uint32Array(mapCount + 1);
  let at = INDEX_HEADER_SIZE;
  for (let k = 0; k < mapCount; k++, at += 8) {
    mapIds[k] = buf.readUInt32BE(at);
    mapFirstBatch[k] = buf.readUInt32BE(at + 4);
    if (k > 0 && (mapIds[k] <= mapIds[k - 1] || mapFirstBatch[k] <= mapFirstBatch[k - 1])) {
      throw new Error(`index map entry ${k} is out of order`);
    }
  }
  mapFirstBatch[mapCount] = batchCount;
  if (mapCount > 0 && (mapFirstBatch[0] !== 0 || mapFirstBatch[mapCount - 1] >= batchCount)) {
    throw new Error('index map entries do not cover the batches');
  }
  const batchOffsets = new Float64Array(batchCount + 1);
  for (let b = 0; b <= batchCount; b++, at += 8) {
    batchOffsets[b] = readU64(buf, at);
    if (b > 0 && batchOffsets[b] <= batchOffsets[b - 1]) throw new Error(`index offset ${b} is out of order`);
  }
  if (batchOffsets[0] !== 0 || batchOffsets[batchCount] !== sourceBytes) {
    throw new Error('index offsets do not span the file');
  }
  if ((mapCount === 0) !== (batchCount === 0)) throw new Error('index has batches without maps or maps without batches');
  return { sourceBytes, mapIds, mapFirstBatch, batchOffsets };
}
