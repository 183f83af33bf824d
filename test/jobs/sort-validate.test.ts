import { describe, expect, it } from 'vitest';
import {
  KEY_SIZE,
  KeyRangePartitioner,
  OrderValidator,
  RECORD_SIZE,
  RecordChecksum,
  generateRecords,
  sortRecords,
  validatePartitionSequence,
  type OrderResult,
} from '../../src/jobs/data/index.js';
import { ErrorCodes } from '../../src/protocol/errors.js';

function keysInOrder(buf: Buffer): boolean {
  for (let o = RECORD_SIZE; o < buf.length; o += RECORD_SIZE) {
    if (buf.compare(buf, o, o + KEY_SIZE, o - RECORD_SIZE, o - RECORD_SIZE + KEY_SIZE) > 0) return false;
  }
  return true;
}

function sameMultiset(a: Buffer, b: Buffer): boolean {
  const rows = (x: Buffer): string[] => {
    const out: string[] = [];
    for (let o = 0; o < x.length; o += RECORD_SIZE) out.push(x.toString('hex', o, o + RECORD_SIZE));
    return out.sort();
  };
  const ra = rows(a);
  const rb = rows(b);
  return ra.length === rb.length && ra.every((r, i) => r === rb[i]);
}

function validate(...blocks: Buffer[]): OrderResult {
  const v = new OrderValidator();
  for (const b of blocks) v.add(b);
  return v.result();
}

describe('sortRecords', () => {
  it('orders random records and outputs a permutation of the input', () => {
    const input = generateRecords(0, 20_000, 99);
    const copy = Buffer.from(input); // copy
    const sorted = sortRecords(input);
    expect(input.equals(copy)).toBe(true); // input untouched
    expect(keysInOrder(input)).toBe(false);
    expect(keysInOrder(sorted)).toBe(true);
    expect(sameMultiset(sorted, input)).toBe(true);
  });

  it('sorts keys that tie on long prefixes, and duplicates, stably', () => {
    // Five groups by first byte; within a group keys share 7 bytes (more
    // than the packed prefix holds) and differ in the last 3.
    const n = 5000;
    const input = Buffer.alloc(n * RECORD_SIZE);
    for (let i = 0; i < n; i++) {
      const o = i * RECORD_SIZE;
      input.fill(0x42, o, o + 7);
      input[o] = (i * 3) % 5;
      input.writeUIntBE(((i * 2654435761) >>> 0) % 300, o + 7, 3);
      input.writeUInt32BE(i, o + 20); // input position, to check stability
    }
    const sorted = sortRecords(input);
    expect(keysInOrder(sorted)).toBe(true);
    expect(sameMultiset(sorted, input)).toBe(true);
    for (let o = RECORD_SIZE; o < sorted.length; o += RECORD_SIZE) {
      if (sorted.compare(sorted, o, o + KEY_SIZE, o - RECORD_SIZE, o - RECORD_SIZE + KEY_SIZE) === 0) {
        expect(sorted.readUInt32BE(o + 20)).toBeGreaterThan(sorted.readUInt32BE(o - RECORD_SIZE + 20));
      }
    }
  });

  it('handles empty, single-record and unaligned input, and rejects partial records', () => {
    expect(sortRecords(Buffer.alloc(0)).length).toBe(0);
    const one = generateRecords(0, 1, 1);
    expect(sortRecords(one).equals(one)).toBe(true);
    const recs = generateRecords(0, 300, 4);
    const unaligned = Buffer.alloc(recs.length + 1).subarray(1);
    recs.copy(unaligned);
    expect(sortRecords(unaligned).equals(sortRecords(recs))).toBe(true);
    expect(() => sortRecords(Buffer.alloc(99))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
  });

  it('prints sort throughput', () => {
    const input = generateRecords(0, 300_000, 2); // 30 MB
    const t = performance.now();
    sortRecords(input);
    const ms = performance.now() - t;
    console.log(`sortRecords: ${(input.length / 1e6 / (ms / 1000)).toFixed(0)} MB/s (${ms.toFixed(0)} ms for 30 MB)`);
  });
});

describe('OrderValidator', () => {
  const sorted = sortRecords(generateRecords(0, 3000, 17));

  it('accepts sorted blocks and reports count and key range', () => {
    const r = validate(sorted.subarray(0, 1000 * RECORD_SIZE), Buffer.alloc(0), sorted.subarray(1000 * RECORD_SIZE));
    expect(r.ordered).toBe(true);
    expect(r.records).toBe(3000);
    expect(r.firstViolation).toBeUndefined();
    expect(r.firstKey!.equals(sorted.subarray(0, KEY_SIZE))).toBe(true);
    expect(r.lastKey!.equals(sorted.subarray(2999 * RECORD_SIZE, 2999 * RECORD_SIZE + KEY_SIZE))).toBe(true);
    expect(validate()).toEqual({ records: 0, firstKey: null, lastKey: null, ordered: true });
  });

  it('finds a violation inside a block', () => {
    const bad = Buffer.from(sorted); // copy
    sorted.copy(bad, 700 * RECORD_SIZE, 701 * RECORD_SIZE, 702 * RECORD_SIZE);
    sorted.copy(bad, 701 * RECORD_SIZE, 700 * RECORD_SIZE, 701 * RECORD_SIZE);
    const r = validate(bad);
    expect(r.ordered).toBe(false);
    expect(r.firstViolation).toBe(701);
    expect(r.records).toBe(3000);
  });

  it('finds a violation across blocks even when the block is reused', () => {
    const v = new OrderValidator();
    const block = Buffer.from(sorted.subarray(1000 * RECORD_SIZE, 2000 * RECORD_SIZE)); // copy
    v.add(block);
    sorted.copy(block, 0, 0, 1000 * RECORD_SIZE); // earlier keys arrive after later ones
    v.add(block);
    const r = v.result();
    expect(r.ordered).toBe(false);
    expect(r.firstViolation).toBe(1000);
  });
});

describe('validatePartitionSequence', () => {
  const input = generateRecords(0, 4000, 23);

  function partitionResults(p: KeyRangePartitioner): OrderResult[] {
    const buckets: Buffer[][] = Array.from({ length: p.numPartitions }, () => []);
    for (let o = 0; o < input.length; o += RECORD_SIZE) buckets[p.partition(input, o)]!.push(input.subarray(o, o + RECORD_SIZE));
    return buckets.map((b) => validate(sortRecords(Buffer.concat(b))));
  }

  it('accepts range-partitioned sorted output, skipping empty partitions', () => {
    const results = partitionResults(KeyRangePartitioner.uniform(6));
    results.splice(2, 0, validate()); // an empty partition in the middle
    const report = validatePartitionSequence(results);
    expect(report).toEqual({ ok: true, records: 4000, unordered: [], overlaps: [] });
  });

  it('reports partitions that overlap and partitions that are unordered', () => {
    const results = partitionResults(KeyRangePartitioner.uniform(4));
    // Partitions 1 and 2 swapped (an empty one between them), the last one unordered.
    const unordered: OrderResult = { ...results[3]!, ordered: false, firstViolation: 5 };
    const report = validatePartitionSequence([results[0]!, results[2]!, validate(), results[1]!, unordered]);
    expect(report.ok).toBe(false);
    expect(report.overlaps).toEqual([{ left: 1, right: 3 }]);
    expect(report.unordered).toEqual([4]);
  });

  it('keeps the checksum of input and sorted partitions equal', () => {
    const inCheck = new RecordChecksum();
    inCheck.add(input);
    const p = KeyRangePartitioner.uniform(3);
    const out = new RecordChecksum();
    for (let part = 0; part < 3; part++) {
      const mine: Buffer[] = [];
      for (let o = 0; o < input.length; o += RECORD_SIZE) if (p.partition(input, o) === part) mine.push(input.subarray(o, o + RECORD_SIZE));
      out.merge(checksumOfSorted(Buffer.concat(mine)));
    }
    expect(out.equals(inCheck)).toBe(true);
  });
});

function checksumOfSorted(buf: Buffer): RecordChecksum {
  const c = new RecordChecksum();
  c.add(sortRecords(buf));
  return c;
}
