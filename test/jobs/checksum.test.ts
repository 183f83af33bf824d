import { describe, expect, it } from 'vitest';
import { RECORD_SIZE, RecordChecksum, generateRecords } from '../../src/jobs/data/index.js';
import { ErrorCodes } from '../../src/protocol/errors.js';

function checksumOf(...blocks: Buffer[]): RecordChecksum {
  const c = new RecordChecksum();
  for (const b of blocks) c.add(b);
  return c;
}

function record(buf: Buffer, i: number): Buffer {
  return buf.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE);
}

describe('RecordChecksum', () => {
  const recs = generateRecords(0, 1000, 21);
  const base = checksumOf(recs);

  it('ignores order and block boundaries', () => {
    const reversed = Buffer.concat(Array.from({ length: 1000 }, (_, i) => record(recs, 999 - i)));
    expect(checksumOf(reversed).equals(base)).toBe(true);
    expect(checksumOf(recs.subarray(0, 300 * RECORD_SIZE), recs.subarray(300 * RECORD_SIZE)).equals(base)).toBe(true);
    expect(base.records).toBe(1000);
  });

  it('merges slices into the checksum of the whole', () => {
    const merged = checksumOf(record(recs, 0)).merge(checksumOf(recs.subarray(RECORD_SIZE, 500 * RECORD_SIZE)));
    merged.merge(checksumOf(recs.subarray(500 * RECORD_SIZE)));
    expect(merged.equals(base)).toBe(true);
    expect(merged.toJSON()).toEqual(base.toJSON());
  });

  it('detects a changed, a missing and a duplicated record', () => {
    const changed = Buffer.from(recs); // copy
    changed[55 * RECORD_SIZE + 50] ^= 1;
    expect(checksumOf(changed).equals(base)).toBe(false);

    const missing = recs.subarray(0, 999 * RECORD_SIZE);
    expect(checksumOf(missing).equals(base)).toBe(false);

    const duplicated = Buffer.concat([recs, record(recs, 17)]);
    expect(checksumOf(duplicated).equals(base)).toBe(false);

    // One record replaced by a copy of another: same count, different sum.
    const swapped = Buffer.from(recs); // copy
    record(recs, 3).copy(swapped, 4 * RECORD_SIZE);
    const s = checksumOf(swapped);
    expect(s.records).toBe(base.records);
    expect(s.equals(base)).toBe(false);
  });

  it('round-trips through JSON and carries into the high half of the sum', () => {
    const json = base.toJSON();
    expect(json.sum).toMatch(/^[0-9a-f]{16}$/);
    expect(json.sum.startsWith('00000000')).toBe(false); // 1000 CRCs add up past 2^32
    expect(RecordChecksum.fromJSON(json).equals(base)).toBe(true);
    expect(() => RecordChecksum.fromJSON({ records: 1, sum: 'zz', xor: '0' })).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }),
    );
  });

  it('rejects partial records', () => {
    expect(() => new RecordChecksum().add(Buffer.alloc(150))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
  });
});
