import { BraidError, ErrorCodes } from '../../protocol/errors.js';
import { checkPartitionCount, wordPartition } from './word-hash.js';

/**
 * Count records: how a WordCount map task pushes word counts to reducers.
 * Big-endian:
 *
 *   countRecord  := wordLength:u16 word:utf8[wordLength] count:u32
 *   countRecords := countRecord*
 *
 * There is no header or record count: records are self-delimiting, so the
 * concatenation of encoded buffers (the batches of many mappers arriving at
 * one reducer) is itself a valid encoding, and decoding sums the counts of a
 * word that occurs more than once.
 */

const MAX_WORD_BYTES = 0xffff;
const MAX_COUNT = 0xffff_ffff;

function invalid(message: string): BraidError {
  return new BraidError(ErrorCodes.INVALID_REQUEST, message, { retriable: false });
}

function recordSize(word: string, n: number): number {
  const len = Buffer.byteLength(word, 'utf8');
  if (len > MAX_WORD_BYTES) throw invalid(`word of ${len} UTF-8 bytes is over the ${MAX_WORD_BYTES}-byte limit`);
  if (!Number.isInteger(n) || n < 0 || n > MAX_COUNT) throw invalid(`count ${n} of a word is not a u32`);
  return 2 + len + 4;
}

function writeRecord(buf: Buffer, at: number, word: string, n: number): number {
  const len = buf.write(word, at + 2, 'utf8');
  buf.writeUInt16BE(len, at);
  buf.writeUInt32BE(n, at + 2 + len);
  return at + 2 + len + 4;
}

/** Encodes word counts as count records: size first, one allocation. */
export function encodeCounts(counts: ReadonlyMap<string, number>): Buffer {
  let size = 0;
  for (const [word, n] of counts) size += recordSize(word, n);
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [word, n] of counts) at = writeRecord(buf, at, word, n);
  if (at !== size) throw new BraidError(ErrorCodes.ENCODE, `count records filled ${at} of ${size} bytes`);
  return buf;
}

/**
 * A map task's output: one encoding per reducer, entry p holding the words
 * with wordPartition(word, R) === p (an empty Buffer when there are none).
 */
export function encodeCountsByPartition(counts: ReadonlyMap<string, number>, numPartitions: number): Buffer[] {
  checkPartitionCount(numPartitions);
  const sizes = new Array<number>(numPartitions).fill(0);
  const parts = new Uint32Array(counts.size);
  let k = 0;
  for (const [word, n] of counts) {
    const p = wordPartition(word, numPartitions);
    parts[k++] = p;
    sizes[p]! += recordSize(word, n);
  }
  const bufs = sizes.map((s) => Buffer.allocUnsafe(s));
  const at = new Array<number>(numPartitions).fill(0);
  k = 0;
  for (const [word, n] of counts) {
    const p = parts[k++]!;
    at[p] = writeRecord(bufs[p]!, at[p]!, word, n);
  }
  for (let p = 0; p < numPartitions; p++) {
    if (at[p] !== sizes[p]) throw new BraidError(ErrorCodes.ENCODE, `partition ${p}: count records filled ${at[p]} of ${sizes[p]} bytes`);
  }
  return bufs;
}

/**
 * Decodes count records into `into` (a new Map by default), adding the
 * counts of repeated words. A truncated record fails with
 * BRAID_ERR_INVALID_REQUEST naming its offset.
 */
export function decodeCounts(buf: Buffer, into: Map<string, number> = new Map()): Map<string, number> {
  let at = 0;
  while (at < buf.length) {
    if (at + 2 > buf.length) throw invalid(`count record at ${at}: truncated length`);
    const len = buf.readUInt16BE(at);
    const end = at + 2 + len + 4;
    if (end > buf.length) throw invalid(`count record at ${at}: needs ${end - at} bytes, ${buf.length - at} left`);
    const word = buf.toString('utf8', at + 2, at + 2 + len);
    into.set(word, (into.get(word) ?? 0) + buf.readUInt32BE(at + 2 + len));
    at = end;
  }
  return into;
}
