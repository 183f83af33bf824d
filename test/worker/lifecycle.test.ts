/**
 * Removing data (DestroySlots, UnregisterShuffle) and surviving a restart
 * (committed files are served again from the metadata store).
 */
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { DestroySlots, ErrorCodes, PushStatus, UnregisterShuffle } from '../../src/protocol/index.js';
import {
  batch,
  commit,
  committedOf,
  connections,
  fileName,
  openStream,
  primary,
  pushData,
  readFile,
  rejectsWith,
  reserve,
  tempDir,
  worker,
} from './harness.js';

const KEY = 'app-1';
const id = (partitionId: number) => ({ partitionId, epoch: 0, mode: 0 }) as const;

const missing = (p: string) => stat(p).then(() => false, () => true);

/** Paths under `dir` that this process holds open (Linux: /proc/self/fd). */
async function openFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd').catch(() => [] as string[])) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) out.push(target);
  }
  return out;
}

async function pushSome(client: Parameters<typeof pushData>[0], key: string, partitionId: number, n: number, seed = 0): Promise<Buffer> {
  const all: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const b = batch({ mapId: i % 3, attemptId: 0, batchId: i }, 100 + i, (seed + i) & 0xff);
    expect(await pushData(client, key, partitionId, b)).toBe(PushStatus.SUCCESS);
    all.push(b);
  }
  return Buffer.concat(all);
}

test('DestroySlots removes files, written or committed, and their sorted copies', async () => {
  const w = await worker({ chunkSize: 256 });
  const { lm, client } = await connections(w);
  const dir = join(w.options.dataDirs[0]!, 'app', '1');
  await reserve(lm, 1, [primary(0), primary(1), primary(2)]);
  await pushSome(client, KEY, 0, 5);
  const keep = await pushSome(client, KEY, 1, 5);
  await pushSome(client, KEY, 2, 5);
  await commit(lm, 1, [id(1), id(2)]);
  await readFile(client, KEY, fileName(2), 1, 2); // leaves 2-0-primary.sorted and its index
  expect((await readdir(dir)).sort()).toEqual(['0-0-primary', '1-0-primary', '2-0-primary', '2-0-primary.sorted', '2-0-primary.sorted.index']);

  await lm.call(DestroySlots, { appId: 'app', shuffleId: 1, files: [id(0), id(2), id(7)] });
  expect(await readdir(dir)).toEqual(['1-0-primary']);
  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 99 }, 1))).toBe(PushStatus.FAIL_UNKNOWN_LOCATION);
  await rejectsWith(openStream(client, KEY, fileName(2)), ErrorCodes.UNKNOWN_FILE);
  expect((await commit(lm, 1, [id(0)])).failed).toEqual([id(0)]);
  expect((await readFile(client, KEY, fileName(1))).data.equals(keep)).toBe(true);
  expect(w.status().shuffles).toEqual([{ key: KEY, files: 1, committed: 1 }]);
});

test('UnregisterShuffle deletes the shuffle directory and forgets the shuffle', async () => {
  const w = await worker();
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)]);
  await reserve(lm, 2, [primary(0)]);
  await pushSome(client, KEY, 0, 3);
  const other = await pushSome(client, 'app-2', 0, 3);
  await commit(lm, 1, [id(0)]);
  await commit(lm, 2, [id(0)]);
  const root = w.options.dataDirs[0]!;

  await lm.call(UnregisterShuffle, { appId: 'app', shuffleId: 1 });
  expect(await missing(join(root, 'app', '1'))).toBe(true);
  expect(w.status().shuffles.map((s) => s.key)).toEqual(['app-2']);
  await rejectsWith(openStream(client, KEY, fileName(0)), ErrorCodes.UNKNOWN_SHUFFLE);
  expect(await pushData(client, KEY, 1, batch({ mapId: 0, attemptId: 0, batchId: 0 }, 1))).toBe(PushStatus.FAIL_UNKNOWN_SHUFFLE);
  // Unregistering twice, or an unknown shuffle, is fine.
  await lm.call(UnregisterShuffle, { appId: 'app', shuffleId: 1 });
  await lm.call(UnregisterShuffle, { appId: 'app', shuffleId: 9 });
  expect((await readFile(client, 'app-2', fileName(0))).data.equals(other)).toBe(true);
  // No file of the deleted shuffle is left open.
  expect(await openFilesUnder(join(root, 'app', '1'))).toEqual([]);
});

test('a shuffle id used again after unregistering serves the new data, not the old sort or cached chunks', async () => {
  const w = await worker({ chunkSize: 128 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  const old = await pushSome(client, KEY, 0, 9, 1);
  await commit(lm, 1, [id(0)]);
  expect((await readFile(client, KEY, fileName(0))).data.equals(old)).toBe(true);
  await readFile(client, KEY, fileName(0), 0, 2);

  await lm.call(UnregisterShuffle, { appId: 'app', shuffleId: 1 });
  await reserve(lm, 1, [primary(0)]);
  // Same sizes and map ids, other bytes.
  const fresh = await pushSome(client, KEY, 0, 9, 2);
  await commit(lm, 1, [id(0)]);
  expect((await readFile(client, KEY, fileName(0))).data.equals(fresh)).toBe(true);
  const range = await readFile(client, KEY, fileName(0), 0, 2);
  const want = Buffer.concat(
    Array.from({ length: 9 }, (_, i) => i)
      .filter((i) => i % 3 < 2)
      .sort((a, b) => (a % 3) - (b % 3) || a - b)
      .map((i) => batch({ mapId: i % 3, attemptId: 0, batchId: i }, 100 + i, (2 + i) & 0xff)),
  );
  expect(range.data.equals(want)).toBe(true);
});

test('a restarted worker serves the files committed before, from the same data dir', async () => {
  const dataDir = await tempDir();
  const first = await worker({ dataDirs: [dataDir], chunkSize: 300 });
  const c1 = await connections(first);
  await reserve(c1.lm, 1, [primary(0), primary(1), primary(2)]);
  const data0 = await pushSome(c1.client, KEY, 0, 12);
  const data1 = await pushSome(c1.client, KEY, 1, 4);
  await pushSome(c1.client, KEY, 2, 4);
  const res = await commit(c1.lm, 1, [id(0), id(2)], [0, 0, 0]);
  // A later commit that names no winners (its record loads last) must not erase them.
  await commit(c1.lm, 1, [id(1)], []);
  // A committed file destroyed before the restart stays gone.
  await c1.lm.call(DestroySlots, { appId: 'app', shuffleId: 1, files: [id(2)] });
  const range = (await readFile(c1.client, KEY, fileName(0), 1, 3)).data;
  await first.close();
  // The closed worker holds nothing open in its data dir.
  expect(await openFilesUnder(dataDir)).toEqual([]);

  const second = await worker({ dataDirs: [dataDir], chunkSize: 300 });
  const c2 = await connections(second);
  expect(second.status().shuffles).toEqual([{ key: KEY, files: 2, committed: 2 }]);
  await rejectsWith(openStream(c2.client, KEY, fileName(2)), ErrorCodes.UNKNOWN_FILE);
  const again0 = await readFile(c2.client, KEY, fileName(0));
  expect(again0.data.equals(data0)).toBe(true);
  expect(again0.stream.numChunks).toBe(committedOf(res, 0).chunkOffsets.length - 1);
  expect((await readFile(c2.client, KEY, fileName(1))).data.equals(data1)).toBe(true);
  expect((await readFile(c2.client, KEY, fileName(0), 1, 3)).data.equals(range)).toBe(true);
  // Commit is still idempotent, and the winners are remembered: late pushes of the winning attempt
  // are dropped; another attempt is sent to the LifecycleManager to decide (it may be a stage retry).
  expect(committedOf(await commit(c2.lm, 1, [id(0)]), 0)).toEqual(committedOf(res, 0));
  expect(await pushData(c2.client, KEY, 0, batch({ mapId: 1, attemptId: 0, batchId: 50 }, 1))).toBe(PushStatus.MAP_ENDED);
  expect(await pushData(c2.client, KEY, 0, batch({ mapId: 1, attemptId: 1, batchId: 50 }, 1))).toBe(PushStatus.FAIL_LOCATION_COMMITTED);
  // Unregistering after the restart still deletes everything.
  await c2.lm.call(UnregisterShuffle, { appId: 'app', shuffleId: 1 });
  expect(await missing(join(dataDir, 'app', '1'))).toBe(true);
});

test('closing a worker with reserved, uncommitted files commits them for the restart and leaves no file open', async () => {
  const dataDir = await tempDir();
  const first = await worker({ dataDirs: [dataDir] });
  const c1 = await connections(first);
  await reserve(c1.lm, 1, [primary(0), primary(1)]);
  const data0 = await pushSome(c1.client, KEY, 0, 5);
  await first.close();
  expect(await openFilesUnder(dataDir)).toEqual([]);

  const second = await worker({ dataDirs: [dataDir] });
  const c2 = await connections(second);
  const res = await commit(c2.lm, 1, [id(0), id(1)]);
  expect(res.failed).toEqual([]);
  expect(committedOf(res, 0).bytes).toBe(data0.length);
  expect(committedOf(res, 1).bytes).toBe(0);
  expect((await readFile(c2.client, KEY, fileName(0))).data.equals(data0)).toBe(true);
});
