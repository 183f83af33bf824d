/**
 * Map-range reads: OpenStream with [startMapIndex, endMapIndex) serves only
 * the batches of those maps, grouped by map id, each map's batches in push
 * order. The file is sorted once (a `.sorted` file and its index next to
 * it); later and concurrent range reads reuse that sort, and whole-file
 * reads never sort.
 */
import { watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { BATCH_HEADER_SIZE, ErrorCodes, forEachBatch } from '../../src/protocol/index.js';
import { batch, commit, connections, fileName, limited, onCleanup, openStream, primary, pushData, readFile, rejectsWith, reserve, rng, worker } from './harness.js';

const KEY = 'app-1';
const CHUNK = 2048;

async function setup(files: number) {
  const w = await worker({ chunkSize: CHUNK });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, Array.from({ length: files }, (_, p) => primary(p)));
  // Maps 0..9 interleaved at random, batches of 20..400 bytes.
  const rand = rng(42);
  const byMap = Array.from({ length: 10 }, () => [] as Buffer[]);
  const all: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    const m = rand(10);
    const b = batch({ mapId: m, attemptId: 0, batchId: byMap[m]!.length }, 4 + rand(380), i & 0xff);
    byMap[m]!.push(b);
    all.push(b);
  }
  for (let p = 0; p < files; p++) for (const b of all) expect(await pushData(client, KEY, p, b)).toBe(0);
  const res = await commit(lm, 1, Array.from({ length: files }, (_, p) => ({ partitionId: p, epoch: 0, mode: 0 })));
  expect(res.failed).toEqual([]);
  const shuffleDir = join(w.options.dataDirs[0]!, 'app', '1');
  return { w, client, byMap, all, shuffleDir };
}

function checkChunks(chunks: Buffer[]): void {
  chunks.forEach((chunk, i) => {
    let held = 0;
    forEachBatch(chunk, (_h, payload) => (held += BATCH_HEADER_SIZE + payload.length));
    expect(held).toBe(chunk.length);
    if (i < chunks.length - 1) expect(chunk.length).toBeGreaterThanOrEqual(CHUNK);
  });
}

test('a map range returns exactly the batches of those maps, each map in push order', async () => {
  const { client, byMap, all, shuffleDir } = await setup(1);
  // A whole-file read does not sort.
  const whole = await readFile(client, KEY, fileName(0));
  expect(whole.data.equals(Buffer.concat(all))).toBe(true);
  expect((await readdir(shuffleDir)).filter((f) => f.includes('.sorted'))).toEqual([]);

  for (const [start, end] of [
    [3, 7],
    [0, 1],
    [9, 10],
    [0, 10],
    [5, 100],
  ] as const) {
    const { chunks, data, stream } = await readFile(client, KEY, fileName(0), start, end);
    const want = Buffer.concat(byMap.slice(start, end).flat());
    expect(data.equals(want), `range [${start}, ${end})`).toBe(true);
    expect(stream.totalBytes).toBe(want.length);
    checkChunks(chunks);
  }
  expect(await readdir(shuffleDir)).toEqual(expect.arrayContaining(['0-0-primary.sorted', '0-0-primary.sorted.index']));

  // No maps in range: an empty stream. An empty range: a coded error.
  expect((await openStream(client, KEY, fileName(0), 20, 30)).numChunks).toBe(0);
  await rejectsWith(openStream(client, KEY, fileName(0), 5, 5), ErrorCodes.INVALID_REQUEST);
});

test('repeated and concurrent range reads of one file share one sort', async () => {
  const { client, byMap, shuffleDir } = await setup(2);
  // Count renames onto the sorted file's name: each sort writes a temporary file and renames it.
  const renames = new Map<string, number>();
  const watcher = watch(shuffleDir, (event, name) => {
    if (event === 'rename' && name !== null && name.endsWith('.sorted')) renames.set(name, (renames.get(name) ?? 0) + 1);
  });
  onCleanup(() => watcher.close());

  // File 0: sorted by a first request, then read again, alone and concurrently.
  const first = await readFile(client, KEY, fileName(0), 3, 7);
  const sortedPath = join(shuffleDir, '0-0-primary.sorted');
  const before = await stat(sortedPath);
  const want = Buffer.concat(byMap.slice(3, 7).flat());
  expect(first.data.equals(want)).toBe(true);
  const again = await limited([1, 2, 3, 4, 5, 6], 6, () => readFile(client, KEY, fileName(0), 3, 7));
  for (const r of again) expect(r.data.equals(want)).toBe(true);
  await readFile(client, KEY, fileName(0), 0, 2);
  const after = await stat(sortedPath);
  expect(after.ino).toBe(before.ino);
  expect(after.mtimeMs).toBe(before.mtimeMs);

  // File 1: eight concurrent first requests, different ranges.
  const ranges = Array.from({ length: 8 }, (_, i) => [i, i + 2] as const);
  const results = await Promise.all(ranges.map(([s, e]) => readFile(client, KEY, fileName(1), s, e)));
  results.forEach((r, i) => expect(r.data.equals(Buffer.concat(byMap.slice(ranges[i]![0], ranges[i]![1]).flat()))).toBe(true));
  const sorted1 = await stat(join(shuffleDir, '1-0-primary.sorted'));
  await readFile(client, KEY, fileName(1), 0, 10);
  expect((await stat(join(shuffleDir, '1-0-primary.sorted'))).ino).toBe(sorted1.ino);

  await new Promise((r) => setTimeout(r, 50)); // let the last watch events arrive
  console.log('renames onto sorted files:', Object.fromEntries(renames));
  expect(renames.get('0-0-primary.sorted')).toBe(1);
  expect(renames.get('1-0-primary.sorted')).toBe(1);
});
