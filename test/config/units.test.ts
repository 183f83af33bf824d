import { describe, expect, test } from 'vitest';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/config/index.js';

const K = 1024;
const M = K * K;
const G = M * K;

describe('parseSize', () => {
  test.each<[string | number, number]>([
    [0, 0],
    [123, 123],
    ['123', 123],
    ['123b', 123],
    ['64k', 64 * K],
    ['64K', 64 * K],
    ['64kb', 64 * K],
    ['64KiB', 64 * K],
    ['8m', 8 * M],
    ['8MB', 8 * M],
    ['1g', G],
    ['2t', 2 * K * G],
    ['1.5g', 1.5 * G],
    ['0.5k', 512],
    [' 2g ', 2 * G],
    ['2 g', 2 * G],
  ])('%j -> %d', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  test.each<string | number>(['', 'lots', '-1', '1x', '1.5', '1..5k', 'k', '1e3', '1gg', -1, 1.5, Number.NaN, Infinity, '99999999999t'])(
    'rejects %j',
    (input) => {
      expect(parseSize(input)).toBeUndefined();
    },
  );
});

describe('parseDuration', () => {
  test.each<[string | number, number]>([
    [0, 0],
    [250, 250],
    ['250', 250],
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['10S', 10_000],
    [' 5s ', 5000],
  ])('%j -> %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each<string | number>(['', 'soon', '-5s', '5 sec', '5d', 's', -1, Number.NaN, Infinity])('rejects %j', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('format', () => {
  test.each<[number, string]>([
    [0, '0'],
    [1000, '1000'],
    [K, '1k'],
    [1536, '1536'],
    [8 * M, '8m'],
    [G, '1g'],
    [4 * G, '4g'],
    [3 * K * G, '3t'],
  ])('formatSize(%d) = %s and parses back', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
    expect(parseSize(text)).toBe(bytes);
  });

  test.each<[number, string]>([
    [0, '0ms'],
    [500, '500ms'],
    [1500, '1500ms'],
    [5000, '5s'],
    [60_000, '1m'],
    [90_000, '90s'],
    [7_200_000, '2h'],
  ])('formatDuration(%d) = %s and parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
