import { mkdtemp, rm, writeFile, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KEY_SIZE,
  RECORD_SIZE,
  OrderValidator,
  RecordChecksum,
  generateRecords,
  readRecordFile,
  recordKey,
  recordSlice,
  sortRecords,
  writeGensortFile,
} from '../../src/jobs/data/index.js';
import { isBraidError, ErrorCodes } from '../../src/protocol/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'braid-gensort-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(path: string, blockBytes?: number): Promise<Buffer[]> {
  const blocks: Buffer[] = [];
  for await (const b of readRecordFile(path, blockBytes === undefined ? {} : { blockBytes })) blocks.push(b);
  return blocks;
}

describe('generateRecords', () => {
  it('lays out each record as documented', () => {
    const start = 0xfffffffe; // crosses the 2^32 boundary of the record number
    const buf = generateRecords(start, 3, 11);
    expect(buf.length).toBe(3 * RECORD_SIZE);
    for (let i = 0; i < 3; i++) {
      const r = buf.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE);
      expect([r[10], r[11]]).toEqual([0x00, 0x11]);
      expect(r.toString('latin1', 12, 44)).toBe((start + i).toString(16).toUpperCase().padStart(32, '0'));
      expect([...r.subarray(44, 48)]).toEqual([0x88, 0x99, 0xaa, 0xbb]);
      const first = (start + i) % 26;
      const filler = Array.from({ length: 48 }, (_, j) => String.fromCharCode(65 + ((first + j) % 26))).join('');
      expect(r.toString('latin1', 48, 96)).toBe(filler);
      expect([...r.subarray(96, 100)]).toEqual([0xcc, 0xdd, 0xee, 0xff]);
    }
    // keys differ between records and look random (not all equal bytes)
    expect(recordKey(buf, 0).equals(recordKey(buf, RECORD_SIZE))).toBe(false);
    expect(new Set(recordKey(buf, 0)).size).toBeGreaterThan(3);
  });

  it('is deterministic and the concatenation of slices equals one call', () => {
    const n = 10_007;
    const whole = generateRecords(0, n, 1234);
    expect(generateRecords(0, n, 1234).equals(whole)).toBe(true);
    for (const slices of [1, 3, 8, 64]) {
      const parts: Buffer[] = [];
      let covered = 0;
      for (let i = 0; i < slices; i++) {
        const { startRecord, count } = recordSlice(n, slices, i);
        expect(startRecord).toBe(covered);
        covered += count;
        parts.push(generateRecords(startRecord, count, 1234));
      }
      expect(covered).toBe(n);
      expect(Buffer.concat(parts).equals(whole)).toBe(true);
    }
  });

  it('depends on the seed, including its bits above 32', () => {
    const a = generateRecords(0, 100, 1);
    expect(generateRecords(0, 100, 2).equals(a)).toBe(false);
    expect(generateRecords(0, 100, 1 + 2 ** 32).equals(a)).toBe(false);
  });

  it('writes into a target and rejects bad arguments', () => {
    const target = Buffer.alloc(1000, 7);
    const out = generateRecords(5, 4, 9, target);
    expect(out.buffer).toBe(target.buffer);
    expect(out.equals(generateRecords(5, 4, 9))).toBe(true);
    expect(target[400]).toBe(7); // untouched past the records
    expect(generateRecords(0, 0, 1).length).toBe(0);
    for (const bad of [() => generateRecords(0, 11, 9, target), () => generateRecords(-1, 1, 1), () => generateRecords(0, 1.5, 1)]) {
      expect(bad).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
    }
  });

  it('prints generation throughput', () => {
    const n = 200_000;
    const target = Buffer.allocUnsafe(n * RECORD_SIZE);
    generateRecords(0, n, 1, target); // warm up
    const t = performance.now();
    generateRecords(n, n, 1, target);
    const ms = performance.now() - t;
    console.log(`gensort generate: ${((n * RECORD_SIZE) / 1e6 / (ms / 1000)).toFixed(0)} MB/s`);
  });
});

describe('gensort files', () => {
  it('writes and reads back the same records in whole-record blocks', async () => {
    const path = join(dir, 'input.bin');
    const n = 50_000; // 5 MB: more than one 4 MiB write block
    await writeGensortFile(path, 1000, n, 77);
    expect((await stat(path)).size).toBe(n * RECORD_SIZE);
    const expected = generateRecords(1000, n, 77);
    expect((await readFile(path)).equals(expected)).toBe(true);

    const blocks = await readAll(path, 123_456);
    for (const b of blocks) expect(b.length % RECORD_SIZE).toBe(0);
    expect(blocks[0]!.length).toBe(123_400);
    expect(Buffer.concat(blocks).equals(expected)).toBe(true);
  });

  it('writes an empty file for zero records', async () => {
    const path = join(dir, 'empty.bin');
    await writeGensortFile(path, 0, 0, 1);
    expect((await stat(path)).size).toBe(0);
    expect(await readAll(path)).toEqual([]);
  });

  it('rejects a file whose size is not a multiple of 100', async () => {
    const path = join(dir, 'ragged.bin');
    await writeFile(path, Buffer.concat([generateRecords(0, 3, 1), Buffer.alloc(42)]));
    const err = await readAll(path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isBraidError(err, ErrorCodes.INVALID_REQUEST)).toBe(true);
  });

  it('accepts any file of 100-byte records, not only ours', async () => {
    // Records unlike our layout: printable keys and values, as gensort -a
    // writes, and fully random bytes.
    const n = 2000;
    const foreign = Buffer.allocUnsafe(n * RECORD_SIZE);
    let x = 12345;
    for (let i = 0; i < foreign.length; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      foreign[i] = i % RECORD_SIZE < KEY_SIZE || i % 3 === 0 ? 0x20 + (x >>> 25) : x >>> 24;
    }
    const path = join(dir, 'foreign.bin');
    await writeFile(path, foreign);

    const input = new RecordChecksum();
    const blocks = await readAll(path, 1000);
    for (const b of blocks) input.add(b);
    expect(input.records).toBe(n);

    const sorted = sortRecords(Buffer.concat(blocks));
    const check = new RecordChecksum();
    check.add(sorted);
    expect(check.equals(input)).toBe(true);
    const v = new OrderValidator();
    v.add(sorted);
    expect(v.result().ordered).toBe(true);
  });
});
