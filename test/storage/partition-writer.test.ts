import { access, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isBraidError } from '../../src/protocol/errors.js';
import { Mode } from '../../src/protocol/types.js';
import { DataDirs } from '../../src/storage/data-dirs.js';
import { PartitionWriter, type CommittedFile } from '../../src/storage/partition-writer.js';
import { batchBoundaries, CountingMemory, makeBatch, randomBatches, tempDir } from './helpers.js';

function checkChunks(c: CommittedFile, data: Buffer, chunkSize: number): void {
  const boundaries = new Set(batchBoundaries(data));
  expect(c.chunkOffsets[0]).toBe(0);
  expect(c.chunkOffsets[c.chunkOffsets.length - 1]).toBe(c.bytes);
  for (let i = 1; i < c.chunkOffsets.length; i++) {
    expect(boundaries.has(c.chunkOffsets[i])).toBe(true);
    const size = c.chunkOffsets[i] - c.chunkOffsets[i - 1];
    expect(size).toBeGreaterThan(0);
    if (i < c.chunkOffsets.length - 1) expect(size).toBeGreaterThanOrEqual(chunkSize);
  }
}

describe('PartitionWriter', () => {
  let tmp: { path: string; remove: () => Promise<void> };
  let dirs: DataDirs;
  beforeEach(async () => {
    tmp = await tempDir('writer');
    dirs = await DataDirs.open([join(tmp.path, 'd0')], { reserveBytes: 0, flusher: { concurrency: 2 } });
  });
  afterEach(async () => {
    await tmp.remove();
  });

  const create = (partitionId: number, memory: CountingMemory, extra: { chunkSize?: number; flushThreshold?: number } = {}) =>
    PartitionWriter.create({
      dir: dirs.pick(),
      appId: 'app-1',
      shuffleId: 3,
      partitionId,
      epoch: 0,
      mode: Mode.Primary,
      chunkSize: extra.chunkSize ?? 64 * 1024,
      flushThreshold: extra.flushThreshold ?? 32 * 1024,
      memory,
    });

  it('writes exactly the appended batches and records batch-aligned chunks and map ids', async () => {
    const memory = new CountingMemory();
    const w = await create(7, memory);
    expect(w.path).toBe(join(tmp.path, 'd0', 'app-1', '3', '7-0-primary'));
    const batches = randomBatches(500, 13, 3000, 1);
    for (const b of batches) w.append(b.buf);
    const expected = Buffer.concat(batches.map((b) => b.buf));
    expect(w.bytesWritten).toBe(expected.length);
    expect(w.batches).toBe(500);
    const c = await w.commit();
    const data = await readFile(c.path);
    expect(data.equals(expected)).toBe(true);
    expect(c.bytes).toBe(expected.length);
    checkChunks(c, data, 64 * 1024);
    expect(c.chunkOffsets.length).toBeGreaterThan(3);
    expect(c.mapIds).toEqual([...new Set(batches.map((b) => b.mapId))].sort((a, b) => a - b));
    expect(memory.held).toBe(0);
    expect(memory.peak).toBeGreaterThan(0);
    expect(w.bytesBuffered).toBe(0);
  });

  it('describes an empty file as one offset', async () => {
    const w = await create(0, new CountingMemory());
    const c = await w.commit();
    expect(c).toMatchObject({ bytes: 0, chunkOffsets: [0], mapIds: [] });
    expect((await readFile(c.path)).length).toBe(0);
  });

  it('ends a chunk exactly at a boundary without an empty last chunk', async () => {
    const w = await create(1, new CountingMemory(), { chunkSize: 100 });
    for (let i = 0; i < 4; i++) w.append(makeBatch(i, 0, 0, 84, i)); // 100 bytes each
    const c = await w.commit();
    expect(c.chunkOffsets).toEqual([0, 100, 200, 300, 400]);
  });

  it('commits once: later calls return the same result; appends after commit fail', async () => {
    const w = await create(2, new CountingMemory());
    w.append(makeBatch(5, 0, 0, 10, 1));
    const first = w.commit();
    const second = w.commit();
    expect(second).toBe(first);
    const c = await first;
    expect(await w.commit()).toBe(c);
    expect(w.committed).toBe(true);
    expect(() => w.append(makeBatch(5, 0, 1, 10, 1))).toThrowError(expect.objectContaining({ code: ErrorCodes.LOCATION_COMMITTED }));
  });

  it('keeps every file intact when many writers share one flusher', async () => {
    const memory = new CountingMemory();
    const writers = await Promise.all(Array.from({ length: 12 }, (_, i) => create(100 + i, memory, { flushThreshold: 8 * 1024 })));
    const perWriter = writers.map((_, i) => randomBatches(150, 5, 2000, 10 + i));
    for (let k = 0; k < 150; k++) {
      for (let i = 0; i < writers.length; i++) writers[i].append(perWriter[i][k].buf);
      if (k % 10 === 0) await new Promise((r) => setImmediate(r)); // let writes overlap appends
    }
    const results = await Promise.all(writers.map((w) => w.commit()));
    for (let i = 0; i < writers.length; i++) {
      const data = await readFile(results[i].path);
      expect(data.equals(Buffer.concat(perWriter[i].map((b) => b.buf)))).toBe(true);
    }
    expect(memory.held).toBe(0);
    expect(dirs.all[0].flusher.writeCalls).toBeGreaterThan(12);
  });

  it('destroy releases buffered memory and deletes the file', async () => {
    const memory = new CountingMemory();
    const w = await create(3, memory, { flushThreshold: 1024 * 1024 });
    for (const b of randomBatches(50, 3, 1000, 2)) w.append(b.buf);
    void w.flush();
    w.append(makeBatch(1, 0, 999, 100, 3)); // pending while a write is in flight
    expect(memory.held).toBeGreaterThan(0);
    await w.destroy();
    expect(memory.held).toBe(0);
    await expect(access(w.path)).rejects.toThrow();
    await w.destroy();
    expect(() => w.append(makeBatch(1, 0, 0, 1, 1))).toThrowError(expect.objectContaining({ code: ErrorCodes.UNKNOWN_LOCATION }));
  });

  it('refuses to reuse an existing file and rejects unsafe app ids', async () => {
    const memory = new CountingMemory();
    await create(4, memory);
    await expect(create(4, memory)).rejects.toMatchObject({ code: ErrorCodes.RESERVE_FAILED });
    await expect(
      PartitionWriter.create({ dir: dirs.pick(), appId: '../evil', shuffleId: 0, partitionId: 0, epoch: 0, mode: Mode.Primary }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    expect(dirs.all[0].healthy).toBe(true);
  });

  /** A writer whose file is a link to /dev/full: every write to it fails with ENOSPC. */
  async function onFullDisk(memory: CountingMemory, relocate?: (bytes: number, tried: ReadonlySet<unknown>) => ReturnType<DataDirs['pick']> | undefined) {
    const dir = dirs.all[0]!;
    const shuffle = join(dir.path, 'app-1', '3');
    await mkdir(shuffle, { recursive: true });
    await symlink('/dev/full', join(shuffle, '9-1-replica'));
    const w = await PartitionWriter.create({ dir, appId: 'app-1', shuffleId: 3, partitionId: 9, epoch: 1, mode: Mode.Replica, flushThreshold: 1024, memory, overwrite: true, relocate });
    return { dir, w };
  }

  it('keeps what a failed write held; with nowhere to move it, the commit fails WRITE_FAILED and memory balances', async () => {
    const memory = new CountingMemory();
    const { dir, w } = await onFullDisk(memory);
    w.append(makeBatch(1, 0, 0, 2000, 1));
    await w.flush();
    // Acknowledged data is not dropped at the failed write: it stays in memory, and the file takes no more pushes.
    expect(w.degraded).toBe(true);
    expect(w.bytesBuffered).toBe(2016);
    expect(memory.held).toBe(2016);
    // The disk is full, not broken.
    expect(dir.healthy).toBe(true);
    expect(dir.freeBytes).toBe(0);
    await expect(w.commit()).rejects.toMatchObject({ code: ErrorCodes.WRITE_FAILED });
    expect(() => w.append(makeBatch(1, 0, 2, 10, 1))).toThrowError(expect.objectContaining({ code: ErrorCodes.WRITE_FAILED }));
    expect(memory.held).toBe(0);
    await w.destroy();
    expect(memory.held).toBe(0);
  });

  it('moves the file to another directory after a failed write, with every appended byte, and commits there', async () => {
    const two = await DataDirs.open([join(tmp.path, 'd0'), join(tmp.path, 'd1')], { reserveBytes: 0 });
    dirs = two;
    const memory = new CountingMemory();
    const { w } = await onFullDisk(memory, (bytes, tried) => two.pickFor(bytes, tried as ReadonlySet<ReturnType<DataDirs['pick']>>));
    const batches = [makeBatch(1, 0, 0, 3000, 1), makeBatch(2, 0, 0, 500, 2), makeBatch(1, 0, 1, 4000, 3)];
    w.append(batches[0]!);
    w.append(batches[1]!);
    await w.flush();
    w.append(batches[2]!);
    const c = await w.commit();
    expect(c.path).toBe(join(two.all[1]!.path, 'app-1', '3', '9-1-replica'));
    expect(c.bytes).toBe(Buffer.concat(batches).length);
    expect((await readFile(c.path)).equals(Buffer.concat(batches))).toBe(true);
    expect(memory.held).toBe(0);
    await w.destroy();
  });

  it('checks its options', async () => {
    await expect(create(5, new CountingMemory(), { chunkSize: 0 })).rejects.toMatchObject({ code: ErrorCodes.CONFIG });
    await expect(create(5, new CountingMemory(), { flushThreshold: 1.5 })).rejects.toMatchObject({ code: ErrorCodes.CONFIG });
  });
});
