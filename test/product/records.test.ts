/** The output checks of these tests must be able to say no. */
import { expect, test } from 'vitest';
import { RECORD } from './helpers.js';
import { canonical, firstUnsorted, recordNumbersAreExactly } from './records.js';

/** gensort-layout records with the given keys (first byte) and record numbers. */
function records(keys: number[], numbers: number[]): Buffer {
  const b = Buffer.alloc(keys.length * RECORD);
  keys.forEach((k, i) => {
    b[i * RECORD] = k;
    b.write(numbers[i]!.toString(16).toUpperCase().padStart(32, '0'), i * RECORD + 12, 'latin1');
  });
  return b;
}

test('firstUnsorted finds the first key below its predecessor', () => {
  expect(firstUnsorted(records([1, 2, 2, 9], [0, 1, 2, 3]))).toBe(-1);
  expect(firstUnsorted(records([1, 3, 2, 9], [0, 1, 2, 3]))).toBe(2);
});

test('recordNumbersAreExactly catches a lost, a duplicated and a foreign record', () => {
  expect(recordNumbersAreExactly(records([1, 2, 3], [2, 0, 1]), 3)).toEqual({ ok: true });
  expect(recordNumbersAreExactly(records([1, 2], [0, 1]), 3).ok).toBe(false);
  expect(recordNumbersAreExactly(records([1, 2, 3], [0, 1, 1]), 3).ok).toBe(false);
  expect(recordNumbersAreExactly(records([1, 2, 3], [0, 1, 7]), 3).ok).toBe(false);
});

test('canonical is equal for the same records in any order, and only then', () => {
  const a = records([5, 1, 3], [0, 1, 2]);
  const b = records([3, 5, 1], [2, 0, 1]);
  expect(canonical(a).equals(canonical(b))).toBe(true);
  expect(canonical(a).equals(canonical(records([5, 1, 3], [0, 1, 3])))).toBe(false);
});
