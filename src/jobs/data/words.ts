import { BraidError, ErrorCodes } from '../../protocol/errors.js';

/**
 * WordCount's data: a fixed vocabulary and a reproducible text generator.
 * The rest of WordCount lives beside it and is re-exported here: counting
 * (word-count.ts), routing words to reducers (word-hash.ts) and the binary
 * count records a map task pushes (count-records.ts).
 */
export { countWords, mergeCounts, totalCount } from './word-count.js';
export { fnv1a32, wordPartition } from './word-hash.js';
export { encodeCounts, encodeCountsByPartition, decodeCounts } from './count-records.js';

const TWO_POW_32 = 0x1_0000_0000;

function invalid(message: string): BraidError {
  return new BraidError(ErrorCodes.INVALID_REQUEST, message, { retriable: false });
}

const CONSONANTS = ['b', 'd', 'f', 'g', 'h', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z'];
// 'ö' makes about a third of the words multi-byte UTF-8, so the byte/char
// distinction is exercised everywhere downstream.
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ö'];
const SYLLABLES = CONSONANTS.flatMap((c) => VOWELS.map((v) => c + v));

export const VOCABULARY_SIZE = 4096;

/**
 * The fixed vocabulary, most frequent word first. Rank r < 96 is one
 * syllable; later ranks are distinct two-syllable words in a scrambled order
 * (7919 is prime to 96^2), so frequent words are short as in real text.
 */
export const VOCABULARY: readonly string[] = (() => {
  const s = SYLLABLES.length;
  const words: string[] = Array.from(SYLLABLES); // VOCABULARY_SIZE > 96
  for (let r = 0; words.length < VOCABULARY_SIZE; r++) {
    const pair = (r * 7919) % (s * s);
    words.push(SYLLABLES[Math.floor(pair / s)]! + SYLLABLES[pair % s]!);
  }
  return words;
})();

const VOCABULARY_BYTES = VOCABULARY.map((w) => Buffer.from(w, 'utf8'));

/** Zipf (exponent 1) cumulative weights, scaled so the last is 2^32. */
const ZIPF_CDF = (() => {
  const cdf = new Float64Array(VOCABULARY_SIZE);
  let total = 0;
  for (let r = 0; r < VOCABULARY_SIZE; r++) cdf[r] = total += 1 / (r + 1);
  for (let r = 0; r < VOCABULARY_SIZE; r++) cdf[r] = (cdf[r]! / total) * TWO_POW_32;
  cdf[VOCABULARY_SIZE - 1] = TWO_POW_32; // no rounding gap at the top
  return cdf;
})();

/**
 * Guide table for sampling: GUIDE[g] is the smallest rank whose cumulative
 * weight is above g * 2^20, so a draw u starts its search at GUIDE[u >>> 20]
 * and moves forward a step or two on average instead of binary searching.
 */
const GUIDE_BITS = 12;
const GUIDE = (() => {
  const guide = new Uint16Array(1 << GUIDE_BITS);
  let r = 0;
  for (let g = 0; g < guide.length; g++) {
    const u = g * 2 ** (32 - GUIDE_BITS);
    while (ZIPF_CDF[r]! <= u) r++;
    guide[g] = r;
  }
  return guide;
})();

/** Smallest rank whose cumulative weight is above u (u in [0, 2^32)). */
function zipfRank(u: number): number {
  let r = GUIDE[u >>> (32 - GUIDE_BITS)]!;
  while (ZIPF_CDF[r]! <= u) r++;
  return r;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

/**
 * Exactly `bytes` bytes of text from `seed`: lines of 4 to 15 words drawn
 * from VOCABULARY with Zipf frequencies, separated by single spaces and
 * newlines. Only whole words are written; when the next word no longer fits,
 * the rest is padded with spaces and the last byte is a newline, so a word
 * count never sees a cut word. Same (seed, bytes), same text.
 */
export function generateText(seed: number, bytes: number): Buffer {
  if (!Number.isSafeInteger(seed)) throw invalid(`seed must be a safe integer, got ${seed}`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw invalid(`bytes must be a non-negative integer, got ${bytes}`);
  const out = Buffer.allocUnsafe(bytes);
  // xorshift32 (inlined below); the state must not be zero.
  let x = (Math.imul((seed ^ Math.floor(seed / TWO_POW_32)) >>> 0, 0x9e3779b1) ^ 0x6a09e667) >>> 0 || 1;
  let pos = 0;
  let wordsLeft = 0;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (wordsLeft === 0) {
      wordsLeft = 4 + (x % 12);
      continue;
    }
    const word = VOCABULARY_BYTES[zipfRank(x)]!;
    const len = word.length;
    if (pos + len + 1 > bytes) break;
    for (let i = 0; i < len; i++) out[pos + i] = word[i]!;
    pos += len;
    out[pos++] = --wordsLeft === 0 ? NEWLINE : SPACE;
  }
  if (pos < bytes) {
    out.fill(SPACE, pos, bytes);
    out[bytes - 1] = NEWLINE;
  }
  return out;
}
