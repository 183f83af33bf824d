import { open } from 'node:fs/promises';
import { BraidError, ErrorCodes } from '../../protocol/errors.js';

/**
 * Records in the Sort Benchmark "gensort" binary layout, produced by our own
 * generator. Every record is 100 bytes:
 *
 *   offset  size  content
 *    0      10    key: pseudo-random bytes, a pure function of (seed, record number)
 *   10       2    0x00 0x11
 *   12      32    the 128-bit record number as 32 uppercase hex digits
 *   44       4    0x88 0x99 0xAA 0xBB
 *   48      48    filler: letters 'A'..'Z' rotating, starting at (record number mod 26)
 *   96       4    0xCC 0xDD 0xEE 0xFF
 *
 * Only the first 10 bytes matter to sorting, partitioning and validation; the
 * readers and validators accept any file of 100-byte records (for example one
 * written by the official gensort), they never look at bytes 10..99.
 *
 * Because each record is computed from its own number, a map task can make
 * records [start, start + count) without the others, and the concatenation of
 * the slices equals the whole input generated at once.
 */

export const RECORD_SIZE = 100;
export const KEY_SIZE = 10;
export const VALUE_SIZE = RECORD_SIZE - KEY_SIZE;

/** Record numbers stay below 2^53 so they are exact JavaScript numbers. */
const MAX_RECORDS = Number.MAX_SAFE_INTEGER;
const TWO_POW_32 = 0x1_0000_0000;
const FILLER_LETTERS = 26;
const ASCII_A = 0x41;
const ASCII_ZERO = 0x30;

/** Blocks written by `writeGensortFile`: about 4 MiB, whole records. */
const WRITE_BLOCK_RECORDS = Math.ceil((4 << 20) / RECORD_SIZE);
/** Blocks yielded by `readRecordFile` unless told otherwise: about 4 MiB. */
const DEFAULT_READ_BLOCK_BYTES = Math.floor((4 << 20) / RECORD_SIZE) * RECORD_SIZE;

/** Byte → its two uppercase hex digits packed as (high digit << 8) | low digit. */
const HEX_PAIRS = (() => {
  const digits = '0123456789ABCDEF';
  const table = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    table[b] = (digits.charCodeAt(b >>> 4) << 8) | digits.charCodeAt(b & 15);
  }
  return table;
})();

/**
 * The constant bytes of every record, with the hex field zero-filled. It is
 * laid over the whole output with one native `fill`, so the per-record loop
 * only writes the key, the low 16 hex digits and the filler.
 */
const TEMPLATE = (() => {
  const t = Buffer.alloc(RECORD_SIZE);
  t[10] = 0x00;
  t[11] = 0x11;
  t.fill(ASCII_ZERO, 12, 44);
  t[44] = 0x88;
  t[45] = 0x99;
  t[46] = 0xaa;
  t[47] = 0xbb;
  t[96] = 0xcc;
  t[97] = 0xdd;
  t[98] = 0xee;
  t[99] = 0xff;
  return t;
})();

/** A 32-bit avalanche mixer (xorshift-multiply rounds); a bijection on u32. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function invalid(message: string): BraidError {
  return new BraidError(ErrorCodes.INVALID_REQUEST, message, { retriable: false });
}

function checkRange(startRecord: number, count: number): void {
  if (!Number.isSafeInteger(startRecord) || startRecord < 0) {
    throw invalid(`startRecord must be a non-negative safe integer, got ${startRecord}`);
  }
  if (!Number.isSafeInteger(count) || count < 0) {
    throw invalid(`count must be a non-negative safe integer, got ${count}`);
  }
  if (startRecord + count > MAX_RECORDS) {
    throw invalid(`records [${startRecord}, ${startRecord + count}) go past 2^53`);
  }
}

/**
 * Records [startRecord, startRecord + count) for `seed`, written into `target`
 * (at least count * 100 bytes) or a new Buffer. Returns the filled view.
 */
export function generateRecords(startRecord: number, count: number, seed: number, target?: Buffer): Buffer {
  checkRange(startRecord, count);
  if (!Number.isSafeInteger(seed)) throw invalid(`seed must be a safe integer, got ${seed}`);
  const size = count * RECORD_SIZE;
  if (target !== undefined && target.length < size) {
    throw invalid(`target holds ${target.length} bytes, ${size} needed for ${count} records`);
  }
  const out = target === undefined ? Buffer.allocUnsafe(size) : target.subarray(0, size);
  if (count === 0) return out;
  out.fill(TEMPLATE);

  // Three per-call salts from the seed (both halves of it, so seeds that
  // differ only above bit 32 still differ).
  const seedLo = seed >>> 0;
  const seedHi = Math.floor(seed / TWO_POW_32) >>> 0;
  const salt0 = mix32(seedLo ^ mix32(seedHi ^ 0x243f6a88));
  const salt1 = mix32(salt0 ^ 0x85a308d3);
  const salt2 = mix32(salt1 ^ 0x13198a2e);

  let lo = startRecord >>> 0;
  let hi = Math.floor(startRecord / TWO_POW_32);
  let letter = startRecord % FILLER_LETTERS;
  for (let o = 0; o < size; o += RECORD_SIZE) {
    // Key: a chain of mixes of the record number. For a fixed `hi`, distinct
    // `lo` give distinct first words, so keys rarely share even 4 bytes.
    const a = mix32(((lo ^ salt0) + Math.imul(hi, 0x9e3779b9)) >>> 0);
    const b = mix32(a ^ salt1);
    const c = mix32(b + salt2);
    out[o] = a >>> 24;
    out[o + 1] = a >>> 16;
    out[o + 2] = a >>> 8;
    out[o + 3] = a;
    out[o + 4] = b >>> 24;
    out[o + 5] = b >>> 16;
    out[o + 6] = b >>> 8;
    out[o + 7] = b;
    out[o + 8] = c >>> 24;
    out[o + 9] = c >>> 16;

    // Record number: bytes 12..27 hold the upper 64 bits, always zero here
    // (the template's '0's); bytes 28..43 hold `hi` and `lo` in hex.
    let h = HEX_PAIRS[hi >>> 24]!;
    out[o + 28] = h >>> 8;
    out[o + 29] = h;
    h = HEX_PAIRS[(hi >>> 16) & 0xff]!;
    out[o + 30] = h >>> 8;
    out[o + 31] = h;
    h = HEX_PAIRS[(hi >>> 8) & 0xff]!;
    out[o + 32] = h >>> 8;
    out[o + 33] = h;
    h = HEX_PAIRS[hi & 0xff]!;
    out[o + 34] = h >>> 8;
    out[o + 35] = h;
    h = HEX_PAIRS[lo >>> 24]!;
    out[o + 36] = h >>> 8;
    out[o + 37] = h;
    h = HEX_PAIRS[(lo >>> 16) & 0xff]!;
    out[o + 38] = h >>> 8;
    out[o + 39] = h;
    h = HEX_PAIRS[(lo >>> 8) & 0xff]!;
    out[o + 40] = h >>> 8;
    out[o + 41] = h;
    h = HEX_PAIRS[lo & 0xff]!;
    out[o + 42] = h >>> 8;
    out[o + 43] = h;

    let l = letter;
    for (let f = o + 48, end = o + 96; f < end; f++) {
      out[f] = ASCII_A + l;
      if (++l === FILLER_LETTERS) l = 0;
    }

    if (++letter === FILLER_LETTERS) letter = 0;
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi++;
  }
  return out;
}

/** The key (first 10 bytes) of the record at `offset`, as a view. */
export function recordKey(records: Buffer, offset: number): Buffer {
  return records.subarray(offset, offset + KEY_SIZE);
}

/**
 * The slice of `totalRecords` that map task `index` of `numSlices` generates:
 * slices are contiguous, cover every record once and differ by at most one.
 */
export function recordSlice(totalRecords: number, numSlices: number, index: number): { startRecord: number; count: number } {
  checkRange(0, totalRecords);
  if (!Number.isSafeInteger(numSlices) || numSlices < 1) throw invalid(`numSlices must be >= 1, got ${numSlices}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= numSlices) {
    throw invalid(`slice index ${index} outside [0, ${numSlices})`);
  }
  const base = Math.floor(totalRecords / numSlices);
  const extra = totalRecords % numSlices;
  const startRecord = index * base + Math.min(index, extra);
  return { startRecord, count: base + (index < extra ? 1 : 0) };
}

/**
 * Writes records [startRecord, startRecord + count) to a new file at `path`
 * (truncating one that exists). Two ~4 MiB blocks alternate, so one is being
 * generated while the other is written; memory stays bounded by them.
 */
export async function writeGensortFile(path: string, startRecord: number, count: number, seed: number): Promise<void> {
  checkRange(startRecord, count);
  const blockRecords = Math.min(WRITE_BLOCK_RECORDS, Math.max(count, 1));
  const blocks = [Buffer.allocUnsafe(blockRecords * RECORD_SIZE), Buffer.allocUnsafe(blockRecords * RECORD_SIZE)];
  const file = await open(path, 'w');
  try {
    let pending: Promise<unknown> = Promise.resolve();
    let position = 0;
    for (let done = 0, turn = 0; done < count; done += blockRecords, turn ^= 1) {
      const n = Math.min(blockRecords, count - done);
      // The block generated now was last handed to the write before `pending`,
      // which has completed (we awaited it one turn ago).
      const block = generateRecords(startRecord + done, n, seed, blocks[turn]);
      await pending;
      pending = writeFully(file, block, position);
      position += block.length;
    }
    await pending;
  } finally {
    await file.close();
  }
}

type FileHandle = Awaited<ReturnType<typeof open>>;

async function writeFully(file: FileHandle, buf: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buf.length) {
    const { bytesWritten } = await file.write(buf, written, buf.length - written, position + written);
    written += bytesWritten;
  }
}

export interface ReadRecordFileOptions {
  /** Bytes per yielded block, rounded down to whole records (at least one). Default about 4 MiB. */
  blockBytes?: number;
}

/**
 * Reads a file of 100-byte records as blocks of whole records. Each yielded
 * Buffer is fresh (the caller may keep it). A file whose size is not a
 * multiple of 100, or that changes size while being read, fails with
 * BRAID_ERR_INVALID_REQUEST.
 */
export async function* readRecordFile(path: string, options: ReadRecordFileOptions = {}): AsyncGenerator<Buffer> {
  const requested = options.blockBytes ?? DEFAULT_READ_BLOCK_BYTES;
  if (!Number.isSafeInteger(requested) || requested < 1) {
    throw invalid(`blockBytes must be a positive integer, got ${requested}`);
  }
  const blockBytes = Math.max(RECORD_SIZE, Math.floor(requested / RECORD_SIZE) * RECORD_SIZE);
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size % RECORD_SIZE !== 0) {
      throw invalid(`${path}: size ${size} is not a multiple of the ${RECORD_SIZE}-byte record`);
    }
    let position = 0;
    while (position < size) {
      const want = Math.min(blockBytes, size - position);
      const block = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const { bytesRead } = await file.read(block, got, want - got, position + got);
        if (bytesRead === 0) throw invalid(`${path}: file shrank while reading at byte ${position + got}`);
        got += bytesRead;
      }
      position += want;
      yield block;
    }
  } finally {
    await file.close();
  }
}
