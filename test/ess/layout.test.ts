/**
 * The file layout executors and the service agree on: Java's String.hashCode,
 * Spark's non-negative hash, the directory and hex sub-directory it picks,
 * and block ids.
 */
import { describe, expect, it } from 'vitest';
import { dataFileName, indexFileName, javaStringHash, nonNegativeHash, parseBlockId, resolveFile, subDirName } from '../../src/ess/index.js';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';

/** An independent reference: the polynomial in BigInt, reduced mod 2^32, read as a signed int. */
function referenceHash(s: string): number {
  let x = 0n;
  for (let i = 0; i < s.length; i++) x = (x * 31n + BigInt(s.charCodeAt(i))) % (1n << 32n);
  return Number(BigInt.asIntN(32, x));
}

describe('javaStringHash', () => {
  it.each([
    ['', 0],
    ['a', 97],
    ['ab', 97 * 31 + 98],
    ['hello', 99162322],
    ['hello world', 1794106052],
    ['Aa', 2112],
    ['BB', 2112],
    ['é', 233],
    // One code point, two UTF-16 code units: 0xD83D·31 + 0xDE00.
    ['😀', 0xd83d * 31 + 0xde00],
    ['polygenelubricants', -0x8000_0000],
  ])('%j → %i', (s, h) => {
    expect(javaStringHash(s)).toBe(h);
  });

  it('matches a BigInt reference on many strings, wrapping at 32 bits', () => {
    let negatives = 0;
    for (let i = 0; i < 2000; i++) {
      const s = `shuffle_${i % 17}_${i * 7919}_0.${i % 2 ? 'data' : 'index'}${'x'.repeat(i % 40)}`;
      const h = javaStringHash(s);
      expect(h).toBe(referenceHash(s));
      expect(Number.isInteger(h) && h >= -0x8000_0000 && h <= 0x7fff_ffff).toBe(true);
      if (h < 0) negatives++;
    }
    expect(negatives).toBeGreaterThan(100);
  });
});

describe('nonNegativeHash', () => {
  it('is the absolute value, and Integer.MIN_VALUE maps to 0', () => {
    expect(nonNegativeHash('polygenelubricants')).toBe(0);
    expect(javaStringHash('shuffle_1_2_0.data')).toBe(-424048471);
    expect(nonNegativeHash('shuffle_1_2_0.data')).toBe(424048471);
    expect(nonNegativeHash('hello')).toBe(99162322);
    for (let i = 0; i < 500; i++) {
      const s = `f${i}`.repeat(1 + (i % 9));
      expect(nonNegativeHash(s)).toBe(Math.abs(referenceHash(s)));
    }
  });
});

describe('resolveFile', () => {
  it('picks the directory by hash mod dirs and the sub-directory by (hash / dirs) mod subDirs, in hex', () => {
    // |hash| = 424048471 = 3 × 141349490 + 1 → dirs[1]; 141349490 mod 64 = 50 = 0x32.
    expect(resolveFile({ localDirs: ['/a', '/b', '/c'], subDirsPerLocalDir: 64 }, 'shuffle_1_2_0.data')).toBe('/b/32/shuffle_1_2_0.data');
    // 99162322 mod 1 = 0; 99162322 mod 16 = 2 → "02" (always at least two digits).
    expect(resolveFile({ localDirs: ['/only'], subDirsPerLocalDir: 16 }, 'hello')).toBe('/only/02/hello');
    // MIN_VALUE hashes to 0: first dir, sub-directory 00.
    expect(resolveFile({ localDirs: ['/x', '/y'], subDirsPerLocalDir: 64 }, 'polygenelubricants')).toBe('/x/00/polygenelubricants');
  });

  it('formats large sub-directory numbers with more hex digits', () => {
    expect(subDirName(0x1abc * 1, { localDirs: ['/d'], subDirsPerLocalDir: 1 << 16 })).toBe('1abc');
    expect(subDirName(10, { localDirs: ['/d'], subDirsPerLocalDir: 64 })).toBe('0a');
  });

  it('names map output files with reduce id 0', () => {
    expect(dataFileName(3, 7)).toBe('shuffle_3_7_0.data');
    expect(indexFileName(3, 7)).toBe('shuffle_3_7_0.index');
  });
});

describe('parseBlockId', () => {
  it('reads shuffle, map and reduce ids', () => {
    expect(parseBlockId('shuffle_3_7_0')).toEqual({ shuffleId: 3, mapId: 7, reduceId: 0 });
    expect(parseBlockId('shuffle_2147483647_9007199254740991_2147483647')).toEqual({ shuffleId: 2147483647, mapId: Number.MAX_SAFE_INTEGER, reduceId: 2147483647 });
  });

  it.each(['', 'shuffle_1_2', 'shuffle_1_2_3_4', 'rdd_1_2', 'shuffle_01_2_3', 'shuffle_-1_2_3', 'shuffle_1_2_3.data', 'shuffle_2147483648_0_0', 'shuffle_0_9007199254740992_0', 'shuffle_a_b_c', ' shuffle_1_2_3'])(
    '%j → INVALID_REQUEST',
    (id) => {
      let err: unknown;
      try {
        parseBlockId(id);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BraidError);
      expect((err as BraidError).code).toBe(ErrorCodes.INVALID_REQUEST);
    },
  );
});
