/**
 * The external shuffle service on real loopback workers: executors register
 * and write Spark-style map outputs in their own directories, reducers read
 * blocks back through OpenBlocks and chunk fetches.
 */
import { access, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataFileName, fetchBlocks, indexEntryWeight, indexFileName, registerExecutor, resolveFile, type EssMetrics } from '../../src/ess/index.js';
import { ApplicationRemoved, BraidError, ErrorCodes, ExecutorRemoved, GetEssMetrics, OpenBlocks, Role } from '../../src/protocol/index.js';
import type { Connection } from '../../src/transport/index.js';
import { expectCode, fetchAll, localDirs, open, register, worker, writeMaps } from './harness.js';

async function metrics(conn: Connection): Promise<EssMetrics> {
  return JSON.parse((await conn.call(GetEssMetrics, {})).json.toString('utf8')) as EssMetrics;
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** Every (map, reduce) block id of a shuffle, in a scrambled order. */
function allBlocks(shuffleId: number, maps: number, partitions: number): { id: string; m: number; r: number }[] {
  const out = [];
  for (let m = 0; m < maps; m++) for (let r = 0; r < partitions; r++) out.push({ id: `shuffle_${shuffleId}_${m}_${r}`, m, r });
  return out.sort((a, b) => ((a.m * 7 + a.r * 13) % 11) - ((b.m * 7 + b.r * 13) % 11));
}

describe('reading map outputs', () => {
  it('serves every block of several maps byte for byte, empty partitions included', async () => {
    const w = await worker();
    const conn = await open(w);
    const { dirs } = await localDirs(3);
    await register(conn, 'exec-1', dirs, 8);
    // Partition sizes from 0 to ~40 KiB; every third partition of every map is empty.
    const { blocks } = await writeMaps(dirs, 8, 5, 6, 7, (m, r) => (r % 3 === 1 ? 0 : 1 + ((m * 7919 + r * 104729) % 40_000)));
    const wanted = allBlocks(5, 6, 7);
    const got = await fetchAll(conn, 'exec-1', wanted.map((b) => b.id), 'app', 3);
    expect(got).toHaveLength(wanted.length);
    let bytes = 0;
    wanted.forEach((b, i) => {
      expect(got[i]!.equals(blocks[b.m]![b.r]!), b.id).toBe(true);
      bytes += got[i]!.length;
    });
    expect(got.filter((b) => b.length === 0)).toHaveLength(6 * 2);
    // The files are where the layout says, spread over the directories.
    for (let m = 0; m < 6; m++) {
      for (const f of [dataFileName(5, m), indexFileName(5, m)]) expect(await exists(resolveFile({ localDirs: dirs, subDirsPerLocalDir: 8 }, f))).toBe(true);
    }
    expect((await Promise.all(dirs.map((d) => exists(d)))).filter(Boolean).length).toBeGreaterThan(1);

    const m = await metrics(conn);
    expect(m.registeredExecutors).toBe(1);
    expect(m.streamsOpened).toBe(1);
    expect(m.blocksOpened).toBe(wanted.length);
    expect(m.chunksFetched).toBe(wanted.length);
    expect(m.bytesFetched).toBe(bytes);
    expect(m.chunksBeingTransferred).toBe(0);
    expect(m.indexCache.misses).toBe(6);
    expect(m.indexCache.hits).toBe(wanted.length - 6);
  });

  it('serves blocks of one map to several streams, and a block asked for twice', async () => {
    const w = await worker();
    const a = await open(w);
    const b = await open(w);
    const { dirs } = await localDirs(1);
    await register(a, '1', dirs, 64);
    const { blocks } = await writeMaps(dirs, 64, 0, 1, 3, (_m, r) => 100 * (r + 1));
    const [x, y] = await Promise.all([fetchAll(a, '1', ['shuffle_0_0_2', 'shuffle_0_0_2']), fetchAll(b, '1', ['shuffle_0_0_0'])]);
    expect(x.map((c) => c.equals(blocks[0]![2]!))).toEqual([true, true]);
    expect(y[0]!.equals(blocks[0]![0]!)).toBe(true);
  });

  it('evicts indexes by bytes when the index cache is small', async () => {
    const { dirs } = await localDirs(1);
    const weight = indexEntryWeight(resolveFile({ localDirs: dirs, subDirsPerLocalDir: 4 }, indexFileName(1, 0)), resolveFile({ localDirs: dirs, subDirsPerLocalDir: 4 }, dataFileName(1, 0)), 8 * 5);
    const w = await worker({ essIndexCacheBytes: 2 * weight + 1 });
    const conn = await open(w);
    await register(conn, '1', dirs, 4);
    const { blocks } = await writeMaps(dirs, 4, 1, 3, 4, (m, r) => 10 + m + r);
    for (const m of [0, 1, 2, 0]) expect((await fetchAll(conn, '1', [`shuffle_1_${m}_3`]))[0]!.equals(blocks[m]![3]!)).toBe(true);
    const { indexCache } = await metrics(conn);
    expect(indexCache.maxBytes).toBe(2 * weight + 1);
    expect(indexCache.bytes).toBeLessThanOrEqual(indexCache.maxBytes);
    expect(indexCache.entries).toBe(2);
    expect(indexCache.misses).toBe(4); // map 0 was evicted by map 2, so it is read again
    expect(indexCache.hits).toBe(0);
    expect(indexCache.evictions).toBe(2);
  });
});

describe('failures', () => {
  it('answers bad requests with coded errors and keeps serving', async () => {
    const w = await worker();
    const conn = await open(w);
    const { dirs } = await localDirs(2);
    await register(conn, '1', dirs, 16);
    const { blocks } = await writeMaps(dirs, 16, 2, 2, 3, () => 50);
    const openBlocks = (blockIds: string[], execId = '1') => conn.call(OpenBlocks, { appId: 'app', execId, blockIds });

    await expectCode(openBlocks(['shuffle_2_0_0'], 'nobody'), ErrorCodes.INVALID_REQUEST);
    await expectCode(openBlocks(['shuffle_2_9_0']), ErrorCodes.UNKNOWN_FILE); // map never written
    await expectCode(openBlocks(['shuffle_3_0_0']), ErrorCodes.UNKNOWN_FILE); // shuffle never written
    for (const id of ['shuffle_2_0', 'rdd_2_0_0', 'shuffle_2_0_x', 'shuffle_02_0_0']) await expectCode(openBlocks([id]), ErrorCodes.INVALID_REQUEST);
    await expectCode(openBlocks(['shuffle_2_0_0', 'shuffle_2_0_3']), ErrorCodes.INVALID_REQUEST); // reduce id past the index
    // The data file is gone, its index is still there.
    await writeMaps(dirs, 16, 4, 1, 2, () => 8);
    await rm(resolveFile({ localDirs: dirs, subDirsPerLocalDir: 16 }, dataFileName(4, 0)));
    await expectCode(openBlocks(['shuffle_4_0_1']), ErrorCodes.UNKNOWN_FILE);
    // A data file that does not match its index.
    await writeFile(resolveFile({ localDirs: dirs, subDirsPerLocalDir: 16 }, dataFileName(2, 1)), Buffer.alloc(10));
    await expectCode(openBlocks(['shuffle_2_1_0']), ErrorCodes.DATA_LOST);
    await expectCode(registerExecutor(conn, 'app', '2', { localDirs: dirs, subDirsPerLocalDir: 16, shuffleManager: 'hash' }), ErrorCodes.INVALID_REQUEST);
    await expectCode(registerExecutor(conn, 'app', '2', { localDirs: w.options.dataDirs, subDirsPerLocalDir: 16, shuffleManager: 'sort' }), ErrorCodes.INVALID_REQUEST);
    await expectCode(registerExecutor(conn, 'app', '2', { localDirs: ['relative/dir'], subDirsPerLocalDir: 16, shuffleManager: 'sort' }), ErrorCodes.INVALID_REQUEST);

    // A stream's chunks are its blocks: one past the end is a bad chunk index.
    const s = await openBlocks(['shuffle_2_0_1']);
    expect(s.numChunks).toBe(1);
    await expectCode(conn.fetchChunk(s.streamId, 1), ErrorCodes.BAD_CHUNK_INDEX);
    expect((await conn.fetchChunk(s.streamId, 0)).equals(blocks[0]![1]!)).toBe(true);
    expect(conn.isClosed).toBe(false);
    expect((await fetchAll(conn, '1', ['shuffle_2_0_2']))[0]!.equals(blocks[0]![2]!)).toBe(true);
    expect((await metrics(conn)).registeredExecutors).toBe(1);
  });

  it('refuses an application acting for another one', async () => {
    const w = await worker();
    const owner = await open(w, Role.Client, 'app');
    const intruder = await open(w, Role.Client, 'other');
    const lm = await open(w, Role.LifecycleManager, 'other');
    const { dirs } = await localDirs(1);
    await register(owner, '1', dirs, 8);
    await writeMaps(dirs, 8, 0, 1, 1, () => 10);
    for (const c of [intruder, lm]) {
      await expectCode(register(c, '2', dirs, 8, 'app'), ErrorCodes.WRONG_APP);
      await expectCode(c.call(OpenBlocks, { appId: 'app', execId: '1', blockIds: ['shuffle_0_0_0'] }), ErrorCodes.WRONG_APP);
      await expectCode(c.call(ApplicationRemoved, { appId: 'app', cleanupLocalDirs: true }), ErrorCodes.WRONG_APP);
      await expectCode(c.call(ExecutorRemoved, { appId: 'app', execId: '1' }), ErrorCodes.WRONG_APP);
    }
    expect(await exists(dirs[0]!)).toBe(true);
    expect((await metrics(owner)).registeredExecutors).toBe(1);
    expect(await fetchAll(owner, '1', ['shuffle_0_0_0'])).toHaveLength(1);
  });

  it('past maxChunksBeingTransferred, fetches fail SERVER_BUSY (retriable); fetchBlocks retries and gets everything', async () => {
    const w = await worker({ essMaxChunksBeingTransferred: 1 });
    const conn = await open(w);
    const { dirs } = await localDirs(1);
    await register(conn, '1', dirs, 4);
    const { blocks } = await writeMaps(dirs, 4, 0, 2, 8, () => 256 * 1024);
    const ids = allBlocks(0, 2, 8);
    const s = await conn.call(OpenBlocks, { appId: 'app', execId: '1', blockIds: ids.map((b) => b.id) });
    // Every request is on the wire before the first answer: only one can be in flight.
    const results = await Promise.allSettled(ids.map((_b, i) => conn.fetchChunk(s.streamId, i)));
    const busy = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as BraidError] : []));
    expect(busy.length).toBeGreaterThan(0);
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
    for (const e of busy) {
      expect(e.code).toBe(ErrorCodes.SERVER_BUSY);
      expect(e.retriable).toBe(true);
      expect(e.message).toMatch(/shuffle service/);
    }
    expect((await metrics(conn)).busyRefusals).toBe(busy.length);

    const got: Buffer[] = [];
    for await (const b of fetchBlocks(conn, 'app', '1', ids.map((b) => b.id), { maxInFlight: 6, busyBackoffMs: 1 })) got.push(b);
    ids.forEach((b, i) => expect(got[i]!.equals(blocks[b.m]![b.r]!)).toBe(true));
    const m = await metrics(conn);
    expect(m.chunksBeingTransferred).toBe(0);
    expect(m.chunksFetched).toBe(results.length - busy.length + ids.length);
  });

  it('validates its options', async () => {
    await expect(worker({ essIndexCacheBytes: -1 })).rejects.toThrow(/essIndexCacheBytes/);
    await expect(worker({ essMaxChunksBeingTransferred: 0 })).rejects.toThrow(/essMaxChunksBeingTransferred/);
  });
});

describe('lifecycle', () => {
  it('keeps registrations across a worker restart on the same data dir', async () => {
    const w1 = await worker();
    const dataDirs = w1.options.dataDirs;
    const c1 = await open(w1);
    const { dirs } = await localDirs(2);
    await register(c1, 'exec-7', dirs, 32);
    const { blocks } = await writeMaps(dirs, 32, 9, 3, 2, (m, r) => 1000 * m + r);
    await w1.close();

    const w2 = await worker({ dataDirs });
    const c2 = await open(w2);
    expect((await metrics(c2)).registeredExecutors).toBe(1);
    const got = await fetchAll(c2, 'exec-7', ['shuffle_9_2_1', 'shuffle_9_0_0', 'shuffle_9_1_1']);
    expect(got.map((b) => b.length)).toEqual([2001, 0, 1001]);
    expect(got[0]!.equals(blocks[2]![1]!)).toBe(true);
    expect(got[2]!.equals(blocks[1]![1]!)).toBe(true);
  });

  it('ApplicationRemoved with cleanup deletes the directories its executors registered, and nothing else', async () => {
    const w = await worker();
    const app = await open(w, Role.Client, 'app');
    const other = await open(w, Role.Client, 'app-2');
    const admin = await open(w, Role.Admin, '');
    const { root, dirs } = await localDirs(4);
    const [a1, a2, a3, b1] = dirs as [string, string, string, string];
    const sibling = join(root, 'not-registered');
    await mkdir(sibling);
    await writeFile(join(sibling, 'keep.txt'), 'keep');
    await register(app, '1', [a1, a2], 4);
    await register(app, '2', [a3], 4);
    await register(other, '1', [b1], 4, 'app-2');
    await writeMaps([a1, a2], 4, 0, 3, 2, () => 100);
    await writeMaps([a3], 4, 1, 1, 2, () => 100);
    await writeMaps([b1], 4, 0, 1, 2, (_m, r) => 10 + r);
    expect(await fetchAll(app, '1', ['shuffle_0_2_1'])).toHaveLength(1); // opens a handle on a file about to be deleted

    await admin.call(ApplicationRemoved, { appId: 'app', cleanupLocalDirs: true });
    for (const d of [a1, a2, a3]) expect(await exists(d), d).toBe(false);
    expect(await exists(join(sibling, 'keep.txt'))).toBe(true);
    expect(await exists(root)).toBe(true);
    expect(await exists(b1)).toBe(true);
    await expectCode(app.call(OpenBlocks, { appId: 'app', execId: '1', blockIds: ['shuffle_0_0_0'] }), ErrorCodes.INVALID_REQUEST);
    expect((await fetchAll(other, '1', ['shuffle_0_0_1', 'shuffle_0_0_0'], 'app-2')).map((b) => b.length)).toEqual([11, 10]);
    expect((await metrics(admin)).registeredExecutors).toBe(1);

    // Without cleanup the registration goes, the files stay. An application may remove itself.
    await other.call(ApplicationRemoved, { appId: 'app-2', cleanupLocalDirs: false });
    expect(await exists(resolveFile({ localDirs: [b1], subDirsPerLocalDir: 4 }, dataFileName(0, 0)))).toBe(true);
    await expectCode(other.call(OpenBlocks, { appId: 'app-2', execId: '1', blockIds: ['shuffle_0_0_0'] }), ErrorCodes.INVALID_REQUEST);
    const m = await metrics(admin);
    expect(m.registeredExecutors).toBe(0);
    expect(m.applications).toBe(0);
    expect(m.indexCache.entries).toBe(0);
    // Removing an unknown application is a no-op.
    await admin.call(ApplicationRemoved, { appId: 'never-seen', cleanupLocalDirs: true });
  });

  it('ExecutorRemoved keeps serving the map outputs and deletes the executor\'s other files', async () => {
    const w = await worker();
    const conn = await open(w);
    const { dirs } = await localDirs(1);
    await register(conn, '1', dirs, 4);
    const { blocks } = await writeMaps(dirs, 4, 0, 2, 2, () => 64);
    const sub = join(dirs[0]!, '03');
    await mkdir(sub, { recursive: true });
    for (const f of ['temp_shuffle_1234', 'rdd_1_2', 'temp_local_abc']) await writeFile(join(sub, f), 'spill');
    const before = (await readdir(sub)).length;

    await conn.call(ExecutorRemoved, { appId: 'app', execId: '1' });
    for (const f of ['temp_shuffle_1234', 'rdd_1_2', 'temp_local_abc']) expect(await exists(join(sub, f))).toBe(false);
    expect((await readdir(sub)).length).toBe(before - 3);
    const got = await fetchAll(conn, '1', ['shuffle_0_1_1', 'shuffle_0_0_0']);
    expect(got[0]!.equals(blocks[1]![1]!)).toBe(true);
    expect(got[1]!.equals(blocks[0]![0]!)).toBe(true);
    const m = await metrics(conn);
    expect(m.nonShuffleFilesDeleted).toBe(3);
    expect(m.registeredExecutors).toBe(1);
    // Unknown executors: nothing to do.
    await conn.call(ExecutorRemoved, { appId: 'app', execId: 'nobody' });
  });
});
