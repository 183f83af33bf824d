import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/protocol/errors.js';
import { MapRangeSorter, sortedIndexPathOf, sortedPathOf } from '../../src/storage/sorter/map-range-sorter.js';
import type { SortedFile } from '../../src/storage/sorter/sorted-file.js';
import { batchBoundaries, makeBatch, randomBatches, tempDir, type BatchSpec } from './helpers.js';

/** The batches of maps in [start, end), grouped by map ascending, each map's in original order. */
function expectedRange(batches: BatchSpec[], start: number, end: number): Buffer {
  const maps = [...new Set(batches.map((b) => b.mapId))].filter((m) => m >= start && m < end).sort((a, b) => a - b);
  return Buffer.concat(maps.flatMap((m) => batches.filter((b) => b.mapId === m).map((b) => b.buf)));
}

async function checkRange(sorted: SortedFile, batches: BatchSpec[], start: number, end: number, chunkSize: number): Promise<void> {
  const { chunkOffsets } = sorted.range(start, end, chunkSize);
  const data = await readFile(sorted.path);
  const expected = expectedRange(batches, start, end);
  const first = chunkOffsets[0];
  const last = chunkOffsets[chunkOffsets.length - 1];
  expect(data.subarray(first, last).equals(expected)).toBe(true);
  // Plain checks collected, one assertion: thousands of expect() calls are slow.
  const boundaries = new Set(batchBoundaries(data));
  const problems: string[] = [];
  for (let i = 0; i < chunkOffsets.length; i++) {
    if (!boundaries.has(chunkOffsets[i])) problems.push(`offset ${i} (${chunkOffsets[i]}) is not a batch boundary`);
    if (i === 0) continue;
    const size = chunkOffsets[i] - chunkOffsets[i - 1];
    if (size <= 0) problems.push(`chunk ${i - 1} is empty`);
    if (i < chunkOffsets.length - 1 && size < chunkSize) problems.push(`chunk ${i - 1} has ${size} < ${chunkSize} bytes`);
  }
  expect(problems).toEqual([]);
  if (expected.length === 0) expect(chunkOffsets.length).toBe(1);
}

describe('MapRangeSorter', () => {
  let tmp: { path: string; remove: () => Promise<void> };
  const sorters: MapRangeSorter[] = [];
  const newSorter = (opts: ConstructorParameters<typeof MapRangeSorter>[0] = {}) => {
    const s = new MapRangeSorter({ maxThreads: 1, ...opts });
    sorters.push(s);
    return s;
  };
  beforeAll(async () => {
    tmp = await tempDir('sorter');
  });
  afterEach(async () => {
    await Promise.all(sorters.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await tmp.remove();
  });

  async function writePartition(name: string, batches: BatchSpec[]): Promise<{ path: string; bytes: number }> {
    const path = join(tmp.path, name);
    const data = Buffer.concat(batches.map((b) => b.buf));
    await writeFile(path, data);
    return { path, bytes: data.length };
  }

  it('sorts batches by map, keeping each map’s order, in one shared sort', async () => {
    const batches = randomBatches(3000, 40, 600, 7);
    const file = await writePartition('0-0-primary', batches);
    const sorter = newSorter();
    const calls = await Promise.all(Array.from({ length: 8 }, () => sorter.getSorted(file)));
    expect(sorter.sortsStarted).toBe(1);
    for (const c of calls) expect(c).toBe(calls[0]);
    const sorted = calls[0];
    expect(sorted.path).toBe(sortedPathOf(file.path));
    expect(sorted.bytes).toBe(file.bytes);
    expect(sorted.batchCount).toBe(3000);
    expect(sorted.mapIds).toEqual([...new Set(batches.map((b) => b.mapId))].sort((a, b) => a - b));
    expect((await readFile(sorted.path)).equals(expectedRange(batches, 0, 40))).toBe(true);
    expect(await sorter.getSorted(file)).toBe(sorted);
    expect(sorter.sortsStarted).toBe(1);

    for (const [start, end] of [[0, 40], [0, 1], [5, 6], [3, 17], [39, 40], [10, 10], [40, 100], [0, 2 ** 32]] as const) {
      for (const chunkSize of [1, 4096, 64 * 1024, 1 << 30]) await checkRange(sorted, batches, start, end, chunkSize);
    }
    expect(() => sorted.range(5, 4, 100)).toThrowError(expect.objectContaining({ code: ErrorCodes.INVALID_REQUEST }));
  });

  it('reuses the sorted file and index a previous instance left on disk', async () => {
    const batches = randomBatches(500, 9, 300, 8);
    const file = await writePartition('1-0-primary', batches);
    const first = await newSorter().getSorted(file);
    const before = (await stat(sortedIndexPathOf(file.path))).mtimeMs;
    const again = newSorter();
    const second = await again.getSorted(file);
    expect(again.sortsStarted).toBe(0);
    expect((await stat(sortedIndexPathOf(file.path))).mtimeMs).toBe(before);
    expect(second.range(2, 7, 1000)).toEqual(first.range(2, 7, 1000));
    await checkRange(second, batches, 2, 7, 1000);

    // An index made for another size of the file is not trusted.
    const grown = [...batches, { mapId: 3, batchId: 999, buf: makeBatch(3, 0, 999, 50, 1) }];
    const grownFile = await writePartition('1-0-primary', grown);
    const third = newSorter();
    await checkRange(await third.getSorted(grownFile), grown, 0, 9, 1);
    expect(third.sortsStarted).toBe(1);
  });

  it('sorts files larger than its memory in passes, including batches larger than the buffer', async () => {
    const batches = randomBatches(400, 12, 20_000, 9);
    // One batch over the 4 MiB read span and one over the whole work buffer.
    batches.splice(100, 0, { mapId: 4, batchId: 5000, buf: makeBatch(4, 0, 5000, 5 * 1024 * 1024, 0x5a) });
    batches.splice(300, 0, { mapId: 2, batchId: 5001, buf: makeBatch(2, 0, 5001, 7 * 1024 * 1024, 0xa5) });
    const file = await writePartition('2-0-primary', batches);
    const sorter = newSorter({ memoryBytes: 6 * 1024 * 1024 });
    const sorted = await sorter.getSorted(file);
    expect((await readFile(sorted.path)).equals(expectedRange(batches, 0, 12))).toBe(true);
    await checkRange(sorted, batches, 2, 5, 1024 * 1024);
  });

  it('writes large runs from memory as views and small ones through the staging buffer', async () => {
    // Clustered maps (long contiguous runs) mixed with interleaved small batches.
    const batches: BatchSpec[] = [];
    let id = 0;
    for (let m = 0; m < 6; m++) for (let k = 0; k < 3; k++) batches.push({ mapId: m, batchId: id, buf: makeBatch(m, 0, id++, 90_000, id) });
    batches.push(...randomBatches(2000, 6, 3000, 11).map((b) => ({ ...b, batchId: b.batchId + 1000 })));
    for (let m = 5; m >= 0; m--) batches.push({ mapId: m, batchId: id, buf: makeBatch(m, 0, id++, 70_000, id) });
    const file = await writePartition('7-0-primary', batches);
    const sorted = await newSorter().getSorted(file);
    expect((await readFile(sorted.path)).equals(expectedRange(batches, 0, 6))).toBe(true);
    await checkRange(sorted, batches, 1, 4, 256 * 1024);
  });

  it('handles sparse and very large map ids, and empty files', async () => {
    const ids = [7, 4_000_000_000, 123_456_789, 7, 4_000_000_000, 0];
    const batches = ids.map((mapId, i) => ({ mapId, batchId: i, buf: makeBatch(mapId, 0, i, 10 + i, i) }));
    const file = await writePartition('3-0-primary', batches);
    const sorter = newSorter();
    const sorted = await sorter.getSorted(file);
    expect(sorted.mapIds).toEqual([0, 7, 123_456_789, 4_000_000_000]);
    expect((await readFile(sorted.path)).equals(expectedRange(batches, 0, 2 ** 32))).toBe(true);
    await checkRange(sorted, batches, 8, 4_000_000_001, 1);

    const empty = await writePartition('4-0-primary', []);
    const none = await sorter.getSorted(empty);
    expect(none.batchCount).toBe(0);
    expect(none.range(0, 10, 100)).toEqual({ chunkOffsets: [0] });
  });

  it('fails with SORT_FAILED on a damaged file and does not cache the failure', async () => {
    const good = Buffer.concat([makeBatch(1, 0, 0, 100, 1), makeBatch(2, 0, 0, 100, 2)]);
    const bad = Buffer.from(good); // copy
    bad.writeUInt32BE(1_000_000, 116 + 12); // second batch claims more than the file holds
    const path = join(tmp.path, '5-0-primary');
    await writeFile(path, bad);
    const sorter = newSorter();
    await expect(sorter.getSorted({ path, bytes: bad.length })).rejects.toMatchObject({ code: ErrorCodes.SORT_FAILED });
    await expect(access(sortedPathOf(path))).rejects.toThrow();
    await expect(sorter.getSorted({ path: join(tmp.path, 'missing'), bytes: 10 })).rejects.toMatchObject({ code: ErrorCodes.SORT_FAILED });
    await writeFile(path, good);
    const sorted = await sorter.getSorted({ path, bytes: good.length });
    expect(sorted.mapIds).toEqual([1, 2]);
    expect(sorter.sortsStarted).toBe(3);
  });

  it('forget drops the cache entry and the sorted files', async () => {
    const file = await writePartition('6-0-primary', randomBatches(20, 3, 50, 3));
    const sorter = newSorter();
    await sorter.getSorted(file);
    await sorter.forget(file.path);
    await expect(access(sortedPathOf(file.path))).rejects.toThrow();
    await expect(access(sortedIndexPathOf(file.path))).rejects.toThrow();
    await sorter.getSorted(file);
    expect(sorter.sortsStarted).toBe(2);
  });

  it('validates its options', () => {
    expect(() => new MapRangeSorter({ maxThreads: 0 })).toThrowError(expect.objectContaining({ code: ErrorCodes.CONFIG }));
    expect(() => new MapRangeSorter({ maxQueue: -1 })).toThrowError(expect.objectContaining({ code: ErrorCodes.CONFIG }));
  });
});
