import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { FetchFailedError, SparkShuffleExecutor, SparkShuffleManager, braidAttemptId } from '../../src/engines/spark-shuffle-manager.js';
import { startStandalone, type StandaloneHandle } from '../../src/server/standalone.js';
import { appKey, clusterSecurity, testAppTls, testTls } from '../security/fixture.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setup(replicate: boolean, maxFetchFailures = 4) {
  const cluster: StandaloneHandle = await startStandalone({ workers: 2, ...clusterSecurity(), master: { workerTimeoutMs: 5000 } });
  cleanups.push(() => cluster.close());
  const lost: number[] = [];
  const manager = await SparkShuffleManager.start({
    appId: 'spark-app',
    master: cluster.masterAddress,
    authToken: appKey('spark-app'),
    tls: testTls(),
    replicate,
    maxFetchFailures,
    engine: { unregisterAllMapOutput: (id) => lost.push(id) },
  });
  cleanups.push(() => manager.close());
  const executor = await SparkShuffleExecutor.connect('spark-app', manager.lifecycleManager.address, { compression: 'lz4', fetchTimeoutMs: 5000, authToken: appKey('spark-app'), tls: testAppTls() });
  cleanups.push(() => executor.close());
  return { cluster, manager, executor, lost };
}

async function writeMaps(executor: SparkShuffleExecutor, handle: ReturnType<SparkShuffleManager['registerShuffle']>, stageAttemptId = 0): Promise<Map<number, string[]>> {
  const expected = new Map<number, string[]>();
  for (let m = 0; m < handle.numMappers; m++) {
    const writer = executor.getWriter(handle, m, 0, stageAttemptId);
    for (let i = 0; i < 20; i++) {
      const p = (m * 7 + i) % handle.numPartitions;
      const record = `map${m}-rec${i}-${'x'.repeat(i * 13)}`;
      await writer.write(p, Buffer.from(record));
      expected.set(p, [...(expected.get(p) ?? []), record]);
    }
    const end = await writer.close();
    expect(end.winner).toBe(true);
  }
  return expected;
}

test('writers and readers move every record exactly once', async () => {
  const { manager, executor } = await setup(true);
  const handle = manager.registerShuffle(3, 4, 5);
  const expected = await writeMaps(executor, handle);
  const got = new Map<number, string[]>();
  for (let p = 0; p < 5; p++) {
    for await (const b of executor.getReader(handle, p, p + 1, 0)) got.set(p, [...(got.get(p) ?? []), b.toString()]);
  }
  for (let p = 0; p < 5; p++) expect((got.get(p) ?? []).sort()).toEqual((expected.get(p) ?? []).sort());
  // A map range reads only those maps.
  const ranged: string[] = [];
  for await (const b of executor.getReader(handle, 0, 5, 0, 1, 3)) ranged.push(b.toString());
  expect(ranged.every((r) => r.startsWith('map1-') || r.startsWith('map2-'))).toBe(true);
  expect(ranged.length).toBe(40);
  await manager.unregisterShuffle(3);
});

test('a lost worker without replication fails the fetch and asks the engine to re-run the map stage', async () => {
  const { cluster, manager, executor, lost } = await setup(false, 1);
  const handle = manager.registerShuffle(1, 2, 4);
  await writeMaps(executor, handle);
  await manager.lifecycleManager.waitForStageEnd(1);
  await cluster.workers[0]!.close();
  let failure: unknown;
  try {
    for (let p = 0; p < 4; p++) for await (const _ of executor.getReader(handle, p, p + 1, 0)) void _;
  } catch (err) {
    failure = err;
  }
  expect(failure).toBeInstanceOf(FetchFailedError);
  expect((failure as FetchFailedError).code).toBe('BRAID_ERR_FETCH_FAILED');
  expect(lost).toEqual([1]);
});

test('an aborted writer reports nothing; a new attempt of the map wins and is read alone', async () => {
  const { manager, executor } = await setup(true);
  const handle = manager.registerShuffle(5, 1, 2);
  const failed = executor.getWriter(handle, 0, 0);
  await failed.write(0, Buffer.from('from the failed attempt'));
  failed.abort();
  const retry = executor.getWriter(handle, 0, 1);
  await retry.write(0, Buffer.from('from the retry'));
  expect((await retry.close()).winner).toBe(true);
  const got: string[] = [];
  for await (const b of executor.getReader(handle, 0, 2, 0)) got.push(b.toString());
  expect(got).toEqual(['from the retry']);
  await manager.unregisterShuffle(5);
  executor.unregisterShuffle(5);
});

test('a partition that does not match what the winners pushed is a fetch failure: reported, the map stage re-run, FetchFailedError', async () => {
  const { cluster, manager, executor, lost } = await setup(false, 1);
  const handle = manager.registerShuffle(6, 2, 3);
  const expected = await writeMaps(executor, handle);
  await manager.lifecycleManager.waitForStageEnd(6);
  // Flip the attempt id of the first batch on disk (a corrupt header): the reader drops the batch as no winner's, so a batch is missing.
  const target = [...expected.keys()][0]!;
  const [file] = (await readdir(cluster.dataDir, { recursive: true })).filter((f) => f.endsWith(`/6/${target}-0-primary`));
  const fh = await open(join(cluster.dataDir, file!), 'r+');
  await fh.write(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 4);
  await fh.close();
  let failure: unknown;
  try {
    for await (const _ of executor.getReader(handle, target, target + 1, 0)) void _;
  } catch (err) {
    failure = err;
  }
  expect(failure).toBeInstanceOf(FetchFailedError);
  expect((failure as FetchFailedError).cause).toMatchObject({ code: 'BRAID_ERR_CHECKSUM_MISMATCH' });
  expect(lost).toEqual([6]);
});

test('a map stage re-run after a fetch failure, with task attempt numbers starting from 0 again, is read exactly', async () => {
  const { cluster, manager, executor, lost } = await setup(false, 1);
  const handle = manager.registerShuffle(8, 3, 4);
  await writeMaps(executor, handle, 0);
  await manager.lifecycleManager.waitForStageEnd(8);
  await cluster.workers[0]!.close();
  // The reduce stage reads until its first fetch failure, as Spark's does.
  let failure: unknown;
  try {
    for await (const _ of executor.getReader(handle, 0, 4, 0)) void _;
  } catch (err) {
    failure = err;
  }
  expect(failure).toBeInstanceOf(FetchFailedError);
  expect(lost).toEqual([8]);
  // The engine re-runs the whole map stage as stage attempt 1; Spark numbers its task attempts from 0 again.
  const expected = await writeMaps(executor, handle, 1);
  for (let p = 0; p < 4; p++) {
    const got: string[] = [];
    for await (const b of executor.getReader(handle, p, p + 1, 1)) got.push(b.toString());
    expect(got.sort()).toEqual((expected.get(p) ?? []).sort());
  }
});

test('Braid attempt ids keep stage attempts apart and refuse numbers that do not fit', () => {
  expect(braidAttemptId(0, 0)).toBe(0);
  expect(braidAttemptId(0, 3)).toBe(3);
  expect(braidAttemptId(1, 0)).toBe(65536);
  expect(braidAttemptId(2, 5)).not.toBe(braidAttemptId(1, 5));
  for (const [stage, attempt] of [
    [65536, 0],
    [0, 65536],
    [-1, 0],
    [0, 1.5],
  ]) {
    expect(() => braidAttemptId(stage!, attempt!)).toThrow(expect.objectContaining({ code: 'BRAID_ERR_INVALID_REQUEST' }));
  }
});
