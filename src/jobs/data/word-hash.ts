import { BraidError, ErrorCodes } from '../../protocol/errors.js';

/**
 * The stable hash that routes a word to its WordCount reducer: 32-bit FNV-1a
 * of the word's UTF-8 bytes. The counter in word-count.ts computes the same
 * hash over the raw text bytes.
 */

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * FNV-1a of the word's UTF-8 bytes, encoded here without allocating; a lone
 * surrogate counts as U+FFFD, as Buffer.from would encode it.
 */
export function fnv1a32(word: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < word.length; i++) {
    let c = word.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >>> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < word.length ? word.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (cp >>> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >>> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >>> 6) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
        continue;
      }
      c = 0xfffd;
    }
    h = Math.imul(h ^ (0xe0 | (c >>> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >>> 6) & 0x3f)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return h >>> 0;
}

export function checkPartitionCount(numPartitions: number): void {
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1 || numPartitions > TWO_POW_32) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `number of partitions must be an integer in [1, 2^32], got ${numPartitions}`, {
      retriable: false,
    });
  }
}

/** The reducer of `word` among R: fnv1a32(word) mod R. Stable across runs, processes and machines. */
export function wordPartition(word: string, numPartitions: number): number {
  checkPartitionCount(numPartitions);
  return fnv1a32(word) % numPartitions;
}
