import { describe, expect, it } from 'vitest';
import {
  VOCABULARY,
  VOCABULARY_SIZE,
  countWords,
  decodeCounts,
  encodeCounts,
  encodeCountsByPartition,
  fnv1a32,
  generateText,
  mergeCounts,
  totalCount,
  wordPartition,
} from '../../src/jobs/data/index.js';
import { ErrorCodes } from '../../src/protocol/errors.js';

describe('generateText', () => {
  it('is deterministic, exactly sized, whole words from the vocabulary', () => {
    const a = generateText(5, 100_000);
    expect(a.length).toBe(100_000);
    expect(generateText(5, 100_000).equals(a)).toBe(true);
    expect(generateText(6, 100_000).equals(a)).toBe(false);
    expect(a[a.length - 1]).toBe(0x0a);
    const vocab = new Set(VOCABULARY);
    expect(vocab.size).toBe(VOCABULARY_SIZE);
    const counts = countWords(a);
    for (const w of counts.keys()) expect(vocab.has(w)).toBe(true);
    expect(a.toString('utf8')).toMatch(/ö/); // multi-byte words occur
    expect(a.toString('utf8').split('\n').length).toBeGreaterThan(100);
    for (const n of [0, 1, 2, 3, 7]) expect(generateText(1, n).length).toBe(n);
  });

  it('has a Zipf-like distribution: the top word far above the median one', () => {
    const counts = countWords(generateText(9, 1_000_000));
    const sorted = [...counts.values()].sort((x, y) => y - x);
    expect(counts.get(VOCABULARY[0]!)).toBe(sorted[0]);
    expect(sorted[0]! / sorted[Math.floor(sorted.length / 2)]!).toBeGreaterThan(100);
    expect(counts.size).toBeGreaterThan(VOCABULARY_SIZE * 0.8);
  });
});

describe('countWords and mergeCounts', () => {
  it('splits on any whitespace and counts UTF-8 words', () => {
    const m = countWords(Buffer.from('  a b\ta\r\nmöp\n\nmöp a\u000b\u000cb ', 'utf8'));
    expect(Object.fromEntries(m)).toEqual({ a: 3, b: 2, möp: 2 });
    expect(countWords(Buffer.alloc(0)).size).toBe(0);
  });

  it('agrees with a naive count on many distinct words (table growth, probing)', () => {
    const parts: string[] = [];
    let x = 99;
    for (let i = 0; i < 60_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const len = 1 + ((x >>> 8) % 5);
      let w = '';
      for (let k = 0; k < len; k++) w += 'abcdeföü€'[(x >>> (k * 3 + 12)) % 9];
      parts.push(w, (x & 3) === 0 ? '\n' : ' ');
    }
    const text = parts.join('');
    const naive = new Map<string, number>();
    for (const w of text.split(/[ \n]+/)) if (w !== '') naive.set(w, (naive.get(w) ?? 0) + 1);
    expect(naive.size).toBeGreaterThan(10_000);
    expect(countWords(Buffer.from(text, 'utf8'))).toEqual(naive);
    // Same length and same FNV-1a hash: only the byte comparison tells them apart.
    expect(fnv1a32('yaczfa')).toBe(fnv1a32('glbppa'));
    expect(Object.fromEntries(countWords(Buffer.from('yaczfa glbppa yaczfa', 'utf8')))).toEqual({ yaczfa: 2, glbppa: 1 });
    // counting into an existing map adds
    const into = new Map([['abc', 1000]]);
    countWords(Buffer.from('abc abc x', 'utf8'), into);
    expect(Object.fromEntries(into)).toEqual({ abc: 1002, x: 1 });
  });

  it('counts of the parts merge to the counts of the whole', () => {
    const text = generateText(3, 50_000);
    const cut = text.indexOf(0x0a, 20_000) + 1;
    const merged = mergeCounts(countWords(text.subarray(0, cut)), countWords(text.subarray(cut)));
    expect(merged).toEqual(countWords(text));
    expect(totalCount(merged)).toBe(text.toString('utf8').split(/\s+/).filter((w) => w.length > 0).length);
  });
});

describe('wordPartition', () => {
  it('is stable, in range and hashes the UTF-8 bytes with FNV-1a', () => {
    // Reference values of 32-bit FNV-1a.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // Non-ASCII words hash the same bytes Buffer.from would produce.
    const viaBytes = (w: string): number => {
      let h = 0x811c9dc5;
      for (const b of Buffer.from(w, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    for (const w of ['möp', '€uro', 'a😀b', 'x\ud800y']) expect(fnv1a32(w)).toBe(viaBytes(w));
    for (const w of VOCABULARY) {
      const p = wordPartition(w, 7);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(7);
      expect(wordPartition(w, 7)).toBe(p);
    }
    const used = new Set(VOCABULARY.map((w) => wordPartition(w, 16)));
    expect(used.size).toBe(16);
    expect(() => wordPartition('a', 0)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
  });
});

describe('count records', () => {
  it('round-trips through encode/decode and concatenations sum', () => {
    const counts = countWords(generateText(11, 30_000));
    counts.set('😀', 4_000_000_000);
    const enc = encodeCounts(counts);
    expect(decodeCounts(enc)).toEqual(counts);
    const twice = decodeCounts(Buffer.concat([enc, enc]));
    for (const [w, n] of counts) expect(twice.get(w)).toBe(2 * n);
    expect(encodeCounts(new Map()).length).toBe(0);
    // Documented layout: u16 length, utf8, u32 count, big-endian.
    expect(encodeCounts(new Map([['ö', 258]]))).toEqual(Buffer.from([0, 2, 0xc3, 0xb6, 0, 0, 1, 2]));
  });

  it('splits by partition so every reducer gets exactly its words', () => {
    const R = 5;
    const counts = countWords(generateText(12, 30_000));
    const parts = encodeCountsByPartition(counts, R);
    expect(parts.length).toBe(R);
    const back = new Map<string, number>();
    for (let p = 0; p < R; p++) {
      const m = decodeCounts(parts[p]!);
      for (const w of m.keys()) expect(wordPartition(w, R)).toBe(p);
      mergeCounts(back, m);
    }
    expect(back).toEqual(counts);
  });

  it('rejects truncated records and unencodable entries', () => {
    const enc = encodeCounts(new Map([['hello', 1], ['world', 2]]));
    for (let cut = 1; cut < enc.length; cut++) {
      if (cut === 11) continue; // exactly one whole record
      expect(() => decodeCounts(enc.subarray(0, cut))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    }
    expect(decodeCounts(enc.subarray(0, 11))).toEqual(new Map([['hello', 1]]));
    expect(() => encodeCounts(new Map([['x', -1]]))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    expect(() => encodeCounts(new Map([['x', 2 ** 32]]))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    expect(() => encodeCounts(new Map([['x'.repeat(70_000), 1]]))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
  });
});
