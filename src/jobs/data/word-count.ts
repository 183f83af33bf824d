import { FNV_OFFSET, FNV_PRIME } from './word-hash.js';

/**
 * Counting the words of UTF-8 text, the map side of WordCount.
 *
 * Words are maximal runs of bytes other than ASCII whitespace (space, \t,
 * \n, \v, \f, \r). UTF-8 continuation and lead bytes are all >= 0x80, so the
 * split can be done on raw bytes. Counting goes through an open-addressing
 * table keyed by the word's bytes (hashed with FNV-1a while scanning); a
 * string is made only once per distinct word, at the end. Making a string
 * and a Map lookup per word measured about ten times slower.
 */

const MIN_SLOTS = 1 << 12;

function isSpaceByte(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Counts the words of `buf` into `into` (a new Map by default) and returns
 * it. Give it whole lines: a multi-byte character cut at either end of `buf`
 * would decode as U+FFFD.
 */
export function countWords(buf: Buffer, into: Map<string, number> = new Map()): Map<string, number> {
  let slots = new Int32Array(MIN_SLOTS); // entry index + 1; 0 = empty
  let mask = MIN_SLOTS - 1;
  let capacity = MIN_SLOTS >>> 1; // entries before the table doubles (load 1/2)
  let hashes: Uint32Array = new Uint32Array(capacity);
  let starts: Uint32Array = new Uint32Array(capacity); // first occurrence in buf
  let lengths: Uint32Array = new Uint32Array(capacity);
  let counts: Uint32Array = new Uint32Array(capacity);
  let entries = 0;

  const n = buf.length;
  let i = 0;
  while (i < n) {
    if (isSpaceByte(buf[i]!)) {
      i++;
      continue;
    }
    const start = i;
    let h = FNV_OFFSET;
    for (; i < n; i++) {
      const c = buf[i]!;
      if (c <= 32 && isSpaceByte(c)) break;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    h >>>= 0;
    const len = i - start;

    let slot = (h ^ (h >>> 15)) & mask;
    for (;;) {
      const e = slots[slot]! - 1;
      if (e < 0) {
        if (entries === capacity) {
          // Grow: double every array and rehash; then retry this word.
          capacity <<= 1;
          hashes = grow(hashes, capacity);
          starts = grow(starts, capacity);
          lengths = grow(lengths, capacity);
          counts = grow(counts, capacity);
          slots = new Int32Array(capacity << 1);
          mask = (capacity << 1) - 1;
          for (let k = 0; k < entries; k++) {
            const hk = hashes[k]!;
            let s = (hk ^ (hk >>> 15)) & mask;
            while (slots[s] !== 0) s = (s + 1) & mask;
            slots[s] = k + 1;
          }
          slot = (h ^ (h >>> 15)) & mask;
          continue;
        }
        hashes[entries] = h;
        starts[entries] = start;
        lengths[entries] = len;
        counts[entries] = 1;
        slots[slot] = ++entries;
        break;
      }
      if (hashes[e] === h && lengths[e] === len && sameBytes(buf, starts[e]!, start, len)) {
        counts[e]!++;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }

  for (let e = 0; e < entries; e++) {
    const word = buf.toString('utf8', starts[e]!, starts[e]! + lengths[e]!);
    into.set(word, (into.get(word) ?? 0) + counts[e]!);
  }
  return into;
}

function grow(a: Uint32Array, size: number): Uint32Array {
  const b = new Uint32Array(size);
  b.set(a);
  return b;
}

function sameBytes(buf: Buffer, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (buf[a + k] !== buf[b + k]) return false;
  return true;
}

/** Adds every count of `from` to `into`; returns `into`. */
export function mergeCounts(into: Map<string, number>, from: ReadonlyMap<string, number>): Map<string, number> {
  for (const [word, n] of from) into.set(word, (into.get(word) ?? 0) + n);
  return into;
}

/** The sum of all counts (the number of words counted). */
export function totalCount(counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}
