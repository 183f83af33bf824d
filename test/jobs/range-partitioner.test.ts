import { describe, expect, it } from 'vitest';
import { KEY_SIZE, KeyRangePartitioner, RECORD_SIZE, generateRecords, sortRecords } from '../../src/jobs/data/index.js';
import { ErrorCodes } from '../../src/protocol/errors.js';

/** Partitions of the sorted records, in order; asserts they never decrease. */
function partitionsOfSorted(p: KeyRangePartitioner, sorted: Buffer): number[] {
  const parts: number[] = [];
  for (let o = 0; o < sorted.length; o += RECORD_SIZE) parts.push(p.partition(sorted, o));
  for (let i = 1; i < parts.length; i++) {
    if (parts[i]! < parts[i - 1]!) throw new Error(`partition decreased at record ${i}: ${parts[i - 1]} -> ${parts[i]}`);
  }
  return parts;
}

function key(...bytes: number[]): Buffer {
  const k = Buffer.alloc(KEY_SIZE);
  Buffer.from(bytes).copy(k);
  return k;
}

describe('KeyRangePartitioner.uniform', () => {
  it('is monotonic in the key and spreads random keys evenly', () => {
    const R = 7;
    const p = KeyRangePartitioner.uniform(R);
    const sorted = sortRecords(generateRecords(0, 20_000, 3));
    const parts = partitionsOfSorted(p, sorted);
    const sizes = new Array<number>(R).fill(0);
    for (const x of parts) sizes[x]!++;
    for (const s of sizes) expect(s).toBeGreaterThan((20_000 / R) * 0.85);
  });

  it('maps the extremes and the boundaries of the first word', () => {
    const p = KeyRangePartitioner.uniform(4);
    expect(p.partition(key(0, 0, 0, 0), 0)).toBe(0);
    expect(p.partition(key(0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0)).toBe(0);
    expect(p.partition(key(0x40), 0)).toBe(1);
    expect(p.partition(key(0xff, 0xff, 0xff, 0xff, 0xff), 0)).toBe(3);
    expect(KeyRangePartitioner.uniform(1).partition(key(0xff, 0xff, 0xff, 0xff), 0)).toBe(0);
  });

  it('gives split points that rebuild the same partitioning', () => {
    const uniform = KeyRangePartitioner.uniform(13);
    const rebuilt = KeyRangePartitioner.fromSplitPoints(uniform.splitPoints());
    const recs = generateRecords(0, 5000, 8);
    for (let o = 0; o < recs.length; o += RECORD_SIZE) expect(rebuilt.partition(recs, o)).toBe(uniform.partition(recs, o));
  });

  it('rejects a bad number of partitions', () => {
    for (const r of [0, -1, 2.5, 2 ** 22]) {
      expect(() => KeyRangePartitioner.uniform(r)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    }
  });
});

describe('KeyRangePartitioner.fromSample', () => {
  it('is monotonic and balanced on the sampled distribution', () => {
    const R = 10;
    const input = generateRecords(0, 30_000, 5);
    const p = KeyRangePartitioner.fromSample(KeyRangePartitioner.sampleKeys(input, 1000), R);
    expect(p.numPartitions).toBe(R);
    const parts = partitionsOfSorted(p, sortRecords(input));
    const sizes = new Array<number>(R).fill(0);
    for (const x of parts) sizes[x]!++;
    for (const s of sizes) expect(s).toBeGreaterThan(30_000 / R / 2);
  });

  it('keeps skewed keys ordered: the split point itself goes right, equal keys stay together', () => {
    // Keys share their first 8 bytes and differ only in the last two.
    const recs = Buffer.alloc(3000 * RECORD_SIZE);
    for (let i = 0; i < 3000; i++) {
      recs.fill(0xab, i * RECORD_SIZE, i * RECORD_SIZE + 8);
      recs.writeUInt16BE((i * 7919) % 50, i * RECORD_SIZE + 8); // 50 distinct keys, many repeats
    }
    const sample = KeyRangePartitioner.sampleKeys(recs, 300);
    const p = KeyRangePartitioner.fromSample(sample, 8);
    const sorted = sortRecords(recs);
    const parts = partitionsOfSorted(p, sorted);
    for (let i = 1; i < parts.length; i++) {
      if (sorted.compare(sorted, i * RECORD_SIZE, i * RECORD_SIZE + KEY_SIZE, (i - 1) * RECORD_SIZE, (i - 1) * RECORD_SIZE + KEY_SIZE) === 0) {
        expect(parts[i]).toBe(parts[i - 1]);
      }
    }
    const splits = p.splitPoints();
    expect(splits.length).toBe(7);
    for (let j = 0; j < splits.length; j++) expect(p.partition(splits[j]!, 0)).toBeGreaterThanOrEqual(j + 1);
    expect(new Set(parts).size).toBeGreaterThan(4);
  });

  it('accepts whole records as samples and rejects short keys or no sample', () => {
    const recs = generateRecords(0, 10, 1);
    const samples = [0, 1, 2, 3].map((i) => recs.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE));
    expect(KeyRangePartitioner.fromSample(samples, 3).splitPoints().every((k) => k.length === KEY_SIZE)).toBe(true);
    expect(() => KeyRangePartitioner.fromSample([Buffer.alloc(4)], 2)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    expect(() => KeyRangePartitioner.fromSample([], 2)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    expect(() => KeyRangePartitioner.fromSplitPoints([key(2), key(1)])).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
  });
});
