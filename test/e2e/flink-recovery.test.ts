/**
 * Flink-style recovery after a lost worker, end to end: real master and
 * worker processes, a BraidShuffleMaster and the producers' and consumers'
 * ShuffleClient in this process. Without replication a worker is killed
 * with SIGKILL after the result was produced; the master declares it lost,
 * the job is told to produce the result's partitions again, and the
 * partitions produced again (registered anew, so with new attempt ids) must
 * win and be read exactly, with nothing of the first production.
 */
import { expect, test } from 'vitest';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import { BraidShuffleMaster, type BraidShuffleDescriptor, type ResultPartitionId } from '../../src/engines/flink-shuffle-master.js';
import { appKey, testCaOnly, testSecret, testTls } from '../security/fixture.js';
import { Cluster, onCleanup, waitFor } from './cluster.js';

const PRODUCERS = 3;
const SUBPARTITIONS = 4;

function record(d: BraidShuffleDescriptor, sub: number, i: number): string {
  return `${d.partitionIndex}/${sub}/${i}@${d.attemptId}`;
}

test('a worker process killed after the result was produced: the partitions produced again win and are read exactly', async () => {
  const cluster = await Cluster.start({ workers: 2 });
  const sm = new BraidShuffleMaster({ onFatalError: (e) => expect.unreachable(e.message) }, { master: cluster.masterAddress, authSecret: testSecret(), tls: testTls(), pollIntervalMs: 100, replicate: false });
  await sm.start();
  onCleanup(() => sm.close());
  const released: ResultPartitionId[][] = [];
  const jobId = `flink-${process.pid}`;
  await sm.registerJob({ jobId, stopTrackingAndReleasePartitions: (p) => void released.push([...p]) });

  const register = (partitionIndex: number) =>
    sm.registerPartitionWithProducer(jobId, { resultId: 'r', partitionIndex, numberOfPartitions: PRODUCERS, numberOfSubpartitions: SUBPARTITIONS }, { producerId: `p${partitionIndex}` });
  let client: ShuffleClient | undefined;
  onCleanup(() => client?.close());
  const produce = async (d: BraidShuffleDescriptor) => {
    client ??= await ShuffleClient.connect({ appId: jobId, lifecycleManager: d.lifecycleManager, pushTimeoutMs: 3000, authToken: appKey(jobId), tls: testCaOnly() });
    for (let sub = 0; sub < SUBPARTITIONS; sub++) {
      for (let i = 0; i < 3; i++) await client.pushData(d.shuffleId, d.mapId, d.attemptId, sub, Buffer.from(record(d, sub, i)), undefined, undefined, d.numMappers, d.numPartitions);
    }
    return client.mapperEnd(d.shuffleId, d.mapId, d.attemptId, d.numMappers);
  };

  const first = Array.from({ length: PRODUCERS }, (_, i) => register(i));
  for (const d of first) expect((await produce(d)).winner).toBe(true);
  const shuffleId = first[0]!.shuffleId;

  // Kill a worker that holds data of the result; nothing else has a copy of it.
  const statuses = await Promise.all(cluster.workers.map((w) => w.get('/status')));
  const held = cluster.workers.find((_, i) => statuses[i]!.includes(`"${jobId}-${shuffleId}"`));
  expect(held).toBeDefined();
  await held!.kill('SIGKILL');
  await waitFor(() => released.length > 0, 20_000, 'the job to be told to produce the result again');
  expect(released[0]!.map((p) => p.partitionIndex).sort()).toEqual([0, 1, 2]);

  // The job produces every partition again: new registrations, new attempt ids.
  const again = released[0]!.map((p) => register(p.partitionIndex));
  expect(again.map((d) => d.attemptId)).toEqual([1, 1, 1]);
  for (const d of again) expect(await produce(d)).toMatchObject({ winner: true });

  for (let sub = 0; sub < SUBPARTITIONS; sub++) {
    const got: string[] = [];
    for await (const b of client!.readPartition(shuffleId, sub)) got.push(b.toString());
    const expected = again.flatMap((d) => [0, 1, 2].map((i) => record(d, sub, i)));
    expect(got.sort()).toEqual(expected.sort());
  }
});
