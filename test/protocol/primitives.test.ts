/**
 * The small codecs under the frames: batch header, batch payload header,
 * Reader bounds checks, Writer size assertion, u64 range. (Kept apart from
 * roundtrip.test.ts to keep each file short.)
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BATCH_HEADER_SIZE,
  BatchCodec,
  ErrorCodes,
  PAYLOAD_HEADER_SIZE,
  ProtocolError,
  Reader,
  Writer,
  checkSingleBatch,
  encodeBatchHeader,
  forEachBatch,
  openPayload,
  readBatchHeader,
  writeBatchHeader,
  writePayloadHeader,
  type BatchHeader,
  type CodecId,
} from '../../src/protocol/index.js';
import { makeBatch, pattern, thrownBy } from './samples.js';

function expectProtocolError(fn: () => unknown, code: string = ErrorCodes.PROTOCOL): void {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(ProtocolError);
  expect((err as ProtocolError).code).toBe(code);
}

describe('batch header', () => {
  const headers: BatchHeader[] = [
    { mapId: 0, attemptId: 0, batchId: 0, length: 0 },
    { mapId: 7, attemptId: 1, batchId: 42, length: 65_536 },
    { mapId: 0xffff_ffff, attemptId: 0xffff_ffff, batchId: 0xffff_ffff, length: 0xffff_ffff },
  ];

  it.each(headers)('round trips %o in big-endian order', (h) => {
    const buf = encodeBatchHeader(h);
    expect(buf.length).toBe(BATCH_HEADER_SIZE);
    expect(buf.readUInt32BE(0)).toBe(h.mapId);
    expect(buf.readUInt32BE(12)).toBe(h.length);
    expect(readBatchHeader(buf, 0)).toEqual(h);
    const at = 5;
    const big = Buffer.alloc(at + BATCH_HEADER_SIZE + 3);
    writeBatchHeader(big, at, h);
    expect(readBatchHeader(big, at)).toEqual(h);
  });

  it('rejects a truncated header', () => {
    for (let n = 0; n < BATCH_HEADER_SIZE; n++) expectProtocolError(() => readBatchHeader(Buffer.alloc(n), 0));
    expectProtocolError(() => readBatchHeader(Buffer.alloc(20), 5));
  });

  it('forEachBatch visits every batch with a view of its payload and its offset', () => {
    const batches = [makeBatch(1, 0, 0, pattern(10, 1)), makeBatch(2, 3, 4, Buffer.alloc(0)), makeBatch(0xffff_ffff, 1, 9, pattern(300, 2))];
    const buf = Buffer.concat(batches);
    const seen: { h: BatchHeader; payload: Buffer; offset: number }[] = [];
    expect(forEachBatch(buf, (h, payload, offset) => seen.push({ h, payload, offset }))).toBe(3);
    let at = 0;
    for (let i = 0; i < batches.length; i++) {
      const s = seen[i]!;
      expect(s.offset).toBe(at);
      expect(s.h).toEqual(readBatchHeader(batches[i]!, 0));
      expect(s.payload.equals(batches[i]!.subarray(BATCH_HEADER_SIZE))).toBe(true);
      expect(s.payload.buffer).toBe(buf.buffer);
      expect(s.payload.byteOffset).toBe(buf.byteOffset + at + BATCH_HEADER_SIZE);
      at += batches[i]!.length;
    }
    expect(forEachBatch(Buffer.alloc(0), () => expect.unreachable())).toBe(0);
  });

  it('forEachBatch rejects a batch running past the end and a partial header', () => {
    const buf = Buffer.concat([makeBatch(1, 0, 0, pattern(10, 1)), makeBatch(1, 0, 1, pattern(10, 2))]);
    for (let cut = 1; cut < buf.length; cut++) {
      if (cut === buf.length / 2) continue; // a whole first batch alone is valid
      expectProtocolError(() => forEachBatch(buf.subarray(0, cut), () => undefined));
    }
    const huge = encodeBatchHeader({ mapId: 0, attemptId: 0, batchId: 0, length: 0xffff_ffff });
    expectProtocolError(() => forEachBatch(huge, () => undefined));
  });

  it('checkSingleBatch accepts exactly one whole batch', () => {
    const batch = makeBatch(3, 2, 1, pattern(33, 5));
    expect(checkSingleBatch(batch)).toEqual({ mapId: 3, attemptId: 2, batchId: 1, length: 33 + PAYLOAD_HEADER_SIZE });
    expect(checkSingleBatch(encodeBatchHeader({ mapId: 0, attemptId: 0, batchId: 0, length: 0 })).length).toBe(0);
    expectProtocolError(() => checkSingleBatch(Buffer.concat([batch, batch])));
    expectProtocolError(() => checkSingleBatch(batch.subarray(0, batch.length - 1)));
    expectProtocolError(() => checkSingleBatch(Buffer.concat([batch, Buffer.from([0])])));
    expectProtocolError(() => checkSingleBatch(Buffer.alloc(0)));
    expectProtocolError(() => checkSingleBatch(Buffer.alloc(BATCH_HEADER_SIZE - 1)));
  });
});

describe('batch payload header', () => {
  function payload(codec: CodecId, rawLength: number, data: Buffer): Buffer {
    const buf = Buffer.alloc(PAYLOAD_HEADER_SIZE + data.length);
    writePayloadHeader(buf, 0, codec, rawLength, data);
    data.copy(buf, PAYLOAD_HEADER_SIZE);
    return buf;
  }

  it.each([
    ['none', BatchCodec.None, 100, pattern(100, 1)],
    ['none, empty', BatchCodec.None, 0, Buffer.alloc(0)],
    ['lz4', BatchCodec.Lz4, 4096, pattern(57, 2)],
    ['zstd', BatchCodec.Zstd, 0xffff_ffff, pattern(1, 3)],
  ] as const)('%s: writePayloadHeader → openPayload', (_name, codec, rawLength, data) => {
    const buf = payload(codec, rawLength, data);
    expect(buf.readUInt32BE(5)).toBe(crc32(data));
    const { header, data: view } = openPayload(buf);
    expect(header).toEqual({ codec, rawLength, crc: crc32(data) });
    expect(view.equals(data)).toBe(true);
    expect(view.buffer).toBe(buf.buffer);
    expect(view.byteOffset).toBe(buf.byteOffset + PAYLOAD_HEADER_SIZE);
  });

  it('finds a flipped bit anywhere in data or crc: BRAID_ERR_CORRUPT_BATCH', () => {
    const good = payload(BatchCodec.Lz4, 500, pattern(64, 9));
    for (let i = 5; i < good.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(good); // copy: mutated
        bad[i]! ^= bit;
        expectProtocolError(() => openPayload(bad), ErrorCodes.CORRUPT_BATCH);
      }
    }
  });

  it('rejects an unknown codec, a short payload and a wrong raw length for uncompressed data', () => {
    const bad = payload(BatchCodec.None, 10, pattern(10, 4));
    bad[0] = 3;
    expectProtocolError(() => openPayload(bad), ErrorCodes.CORRUPT_BATCH);
    for (let n = 0; n < PAYLOAD_HEADER_SIZE; n++) expectProtocolError(() => openPayload(Buffer.alloc(n)), ErrorCodes.CORRUPT_BATCH);
    expectProtocolError(() => openPayload(payload(BatchCodec.None, 11, pattern(10, 4))), ErrorCodes.CORRUPT_BATCH);
  });
});

describe('Reader', () => {
  const fixed: [string, (r: Reader) => unknown, number][] = [
    ['u8', (r) => r.u8(), 1],
    ['bool', (r) => r.bool(), 1],
    ['u16', (r) => r.u16(), 2],
    ['u32', (r) => r.u32(), 4],
    ['i32', (r) => r.i32(), 4],
    ['u64', (r) => r.u64(), 8],
    ['bytes(5)', (r) => r.bytes(5), 5],
  ];

  it.each(fixed)('%s past the end → ProtocolError (BRAID_ERR_PROTOCOL), cursor unmoved', (_name, read, size) => {
    for (let n = 0; n < size; n++) {
      const r = new Reader(Buffer.alloc(n));
      expectProtocolError(() => read(r));
      expect(r.position).toBe(0);
      // A window over a larger buffer is bounded by its own end, not the buffer's.
      const w = new Reader(Buffer.alloc(64), 3, 3 + n);
      expectProtocolError(() => read(w));
      expect(w.position).toBe(3);
    }
    expect(() => read(new Reader(Buffer.alloc(size)))).not.toThrow();
  });

  it('length-prefixed reads are bounded by the input', () => {
    expectProtocolError(() => new Reader(Buffer.from([0, 0, 0, 5, 1, 2, 3, 4])).lengthPrefixedBytes());
    expectProtocolError(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).lengthPrefixedBytes());
    expectProtocolError(() => new Reader(Buffer.from([0, 4, 0x61, 0x62, 0x63])).string());
    expectProtocolError(() => new Reader(Buffer.from([0])).string());
    const buf = Buffer.from([0, 0, 0, 2, 7, 8, 9]);
    const view = new Reader(buf).lengthPrefixedBytes();
    expect([...view]).toEqual([7, 8]);
    expect(view.buffer).toBe(buf.buffer);
  });

  it('bool accepts only 0 and 1', () => {
    expect(new Reader(Buffer.from([0])).bool()).toBe(false);
    expect(new Reader(Buffer.from([1])).bool()).toBe(true);
    for (const v of [2, 0x80, 0xff]) expectProtocolError(() => new Reader(Buffer.from([v])).bool());
  });

  it('done() rejects trailing bytes', () => {
    const r = new Reader(Buffer.from([1, 2]));
    r.u8();
    expectProtocolError(() => r.done('test'));
    r.u8();
    expect(() => r.done('test')).not.toThrow();
  });

  it('u64 reads values up to 2^53 - 1 and rejects anything larger', () => {
    const w = new Writer(24);
    w.u64(0).u64(2 ** 32).u64(Number.MAX_SAFE_INTEGER);
    const r = new Reader(w.finish());
    expect([r.u64(), r.u64(), r.u64()]).toEqual([0, 2 ** 32, Number.MAX_SAFE_INTEGER]);
    expect(w.buf.subarray(16).toString('hex')).toBe('001fffffffffffff');
    for (const hex of ['0020000000000000', '0020000000000001', '8000000000000000', 'ffffffffffffffff']) {
      expectProtocolError(() => new Reader(Buffer.from(hex, 'hex')).u64());
    }
  });

  it('i32 is signed, u32 is not', () => {
    const buf = Buffer.from('ffffffff80000000', 'hex');
    const r = new Reader(buf);
    expect(r.i32()).toBe(-1);
    expect(r.u32()).toBe(0x8000_0000);
  });

  it('string decodes multi-byte UTF-8 by byte length', () => {
    const s = 'ü€😀';
    const w = new Writer(2 + Buffer.byteLength(s));
    const r = new Reader(w.string(s).finish());
    expect(r.string()).toBe(s);
    expect(r.remaining).toBe(0);
  });
});

describe('Writer', () => {
  it('finish() fails when fewer bytes were written than computed', () => {
    expectProtocolError(() => new Writer(8).u32(1).finish(), ErrorCodes.ENCODE);
    expectProtocolError(() => new Writer(0).finish(1), ErrorCodes.ENCODE);
  });

  it('finish() fails when more bytes were written than computed', () => {
    // A u8 past the end is silently dropped by the typed array; finish() is what notices.
    expectProtocolError(() => new Writer(2).u8(1).u8(2).u8(3).finish(), ErrorCodes.ENCODE);
  });

  it('finish() returns the buffer when the size is exact', () => {
    const w = new Writer(7).u8(1).u16(2).u32(3);
    expect(w.finish().toString('hex')).toBe('01000200000003');
    expect(new Writer(4, 2).u16(0xbeef).finish().subarray(2).toString('hex')).toBe('beef');
  });

  it('u64 rejects values that are not safe non-negative integers', () => {
    for (const v of [2 ** 53, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectProtocolError(() => new Writer(8).u64(v), ErrorCodes.ENCODE);
    }
  });

  it('string rejects more than 65535 UTF-8 bytes and accepts exactly 65535', () => {
    expectProtocolError(() => new Writer(70_000).string('€'.repeat(21_846)), ErrorCodes.ENCODE);
    const max = 'a'.repeat(0xffff);
    expect(new Reader(new Writer(2 + 0xffff).string(max).finish()).string()).toBe(max);
  });
});
