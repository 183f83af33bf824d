import { afterEach, expect, test } from 'vitest';
import { FetchFailedError, SparkShuffleExecutor, SparkShuffleManager } from '../../src/engines/spark-shuffle-manager.js';
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

async function writeMaps(executor: SparkShuffleExecutor, handle: ReturnType<SparkShuffleManager['registerShuffle']>): Promise<Map<number, string[]>> {
  const expected = new Map<number, string[]>();
  for (let m = 0; m < handle.numMappers; m++) {
    const writer = executor.getWriter(handle, m, 0);
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
