import { afterEach, expect, test } from 'vitest';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import { BraidShuffleMaster, type ResultPartitionId } from '../../src/engines/flink-shuffle-master.js';
import { startStandalone, type StandaloneHandle } from '../../src/server/standalone.js';
import { appKey, clusterSecurity, testAppTls, testSecret, testTls } from '../security/fixture.js';

const shuffleMasterSecurity = () => ({ authSecret: testSecret(), tls: testTls() });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function cluster(): Promise<StandaloneHandle> {
  const c = await startStandalone({ workers: 2, ...clusterSecurity(), master: { workerTimeoutMs: 600, heartbeatIntervalMs: 100 }, worker: { heartbeatIntervalMs: 100 } });
  cleanups.push(() => c.close());
  return c;
}

function job(jobId: string) {
  const released: ResultPartitionId[][] = [];
  return { context: { jobId, stopTrackingAndReleasePartitions: (p: readonly ResultPartitionId[]) => void released.push([...p]) }, released };
}

/** Registers a result of 2 producer partitions × 4 subpartitions and pushes from both producers. */
async function produce(sm: BraidShuffleMaster, jobId: string) {
  const descs = [0, 1].map((i) =>
    sm.registerPartitionWithProducer(jobId, { resultId: 'r1', partitionIndex: i, numberOfPartitions: 2, numberOfSubpartitions: 4 }, { producerId: `p${i}` }),
  );
  const client = await ShuffleClient.connect({ appId: jobId, lifecycleManager: descs[0]!.lifecycleManager, authToken: appKey(jobId), tls: testAppTls() });
  cleanups.push(() => client.close());
  for (const d of descs) {
    for (let sub = 0; sub < d.numPartitions; sub++) await client.pushData(d.shuffleId, d.mapId, 0, sub, Buffer.from(`${jobId}-${d.mapId}-${sub}`), undefined, undefined, d.numMappers, d.numPartitions);
    await client.mapperEnd(d.shuffleId, d.mapId, 0, d.numMappers);
  }
  return descs;
}

async function waitFor(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a lost worker makes every job stop tracking the partitions whose data it held, at once', async () => {
  const c = await cluster();
  const fatal: Error[] = [];
  const sm = new BraidShuffleMaster({ onFatalError: (e) => fatal.push(e) }, { master: c.masterAddress, ...shuffleMasterSecurity(), pollIntervalMs: 100, replicate: false });
  await sm.start();
  cleanups.push(() => sm.close());
  const a = job('job-a');
  const b = job('job-b');
  await sm.registerJob(a.context);
  await sm.registerJob(b.context);
  await produce(sm, 'job-a');
  await produce(sm, 'job-b');
  await c.workers[0]!.close();
  await waitFor(() => a.released.length > 0 && b.released.length > 0);
  for (const j of [a, b]) {
    expect(j.released).toHaveLength(1);
    expect(j.released[0]!.map((p) => p.partitionIndex).sort()).toEqual([0, 1]);
  }
  expect(fatal).toEqual([]);
});

test('with replication a lost worker loses nothing; releasing every partition deletes the shuffle', async () => {
  const c = await cluster();
  const sm = new BraidShuffleMaster({ onFatalError: () => undefined }, { master: c.masterAddress, ...shuffleMasterSecurity(), pollIntervalMs: 100 });
  await sm.start();
  cleanups.push(() => sm.close());
  const a = job('job-r');
  await sm.registerJob(a.context);
  const descs = await produce(sm, 'job-r');
  await c.workers[0]!.close();
  await new Promise((r) => setTimeout(r, 1500));
  expect(a.released).toEqual([]);
  for (const d of descs) await sm.releasePartitionExternally(d);
  await waitFor(() => c.workers[1]!.status().shuffles.length === 0);
});

test('a Braid master that stays unreachable is a fatal error', async () => {
  const c = await cluster();
  const fatal: Error[] = [];
  const sm = new BraidShuffleMaster({ onFatalError: (e) => fatal.push(e) }, { master: c.masterAddress, ...shuffleMasterSecurity(), pollIntervalMs: 50, masterFailureTimeoutMs: 300 });
  await sm.start();
  cleanups.push(() => sm.close());
  await c.master.close();
  await waitFor(() => fatal.length > 0);
  expect(fatal[0]).toMatchObject({ code: expect.stringMatching(/^BRAID_ERR_/) });
});
