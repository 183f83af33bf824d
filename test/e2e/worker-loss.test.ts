/**
 * Worker loss with replication on: a worker is killed with SIGKILL (no
 * goodbye, its sockets reset by the kernel) in the middle of the map stage,
 * and in another run in the middle of reading. Acknowledged data is on both
 * copies, so pushes fail over through revive to other workers, the dead
 * worker's epochs are read from their replicas, and results are exact.
 * Last, a graceful stop (SIGTERM) mid-push: the worker turns writers away
 * while it shuts down, and its partitions move on to other workers.
 */
import { expect, test } from 'vitest';
import { addressKey } from '../../src/protocol/index.js';
import { expectExact, mapSpecs, readAll, runMaps, startJobEnv } from './job.js';

const M = 6;
const R = 8;
const BATCHES = 40;
const FIRST = 15;

test('SIGKILL of a worker holding primaries while maps push: pushes fail over, replicas are read', async () => {
  const { cluster, lm, procs } = await startJobEnv({ replicate: true, client: { pushTimeoutMs: 3000 } });
  const shuffleId = 21;
  const runs = mapSpecs(shuffleId, M, R, 5000, BATCHES, { maxSize: 256 * 1024, pauseAt: [FIRST], drainAtPause: true }).map((s, i) => procs[i % procs.length]!.map(s));
  for (const r of runs) expect(await r.nextPause()).toBe(FIRST);

  // The worker with the most primaries among the partitions' current epochs.
  const current = await lm.registerShuffle(shuffleId, M, R);
  const primaries = new Map<string, number>();
  for (const loc of current) primaries.set(addressKey(loc.primary), (primaries.get(addressKey(loc.primary)) ?? 0) + 1);
  const [victimAddress] = [...primaries.entries()].sort((a, b) => b[1] - a[1])[0]!;
  const victim = cluster.worker(victimAddress);
  await victim.kill('SIGKILL');
  for (const r of runs) r.resume();
  const maps = await Promise.all(runs.map((r) => r.result));

  const reads = await readAll(procs, shuffleId, R);
  expectExact(maps, reads, R);

  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  expect(group.partitions.every((p) => !p.lost)).toBe(true);
  const files = group.partitions.flatMap((p) => p.files);
  expect(files.some((f) => addressKey(f.address) === victimAddress)).toBe(false);
  // Epochs whose primary died are served by their replica alone.
  const onlyReplica = group.partitions.flatMap((p) => {
    const epochs = new Map<number, number[]>();
    for (const f of p.files) epochs.set(f.epoch, [...(epochs.get(f.epoch) ?? []), f.mode]);
    return [...epochs.values()].filter((modes) => modes.length === 1 && modes[0] === 1);
  });
  expect(onlyReplica.length).toBeGreaterThan(0);
});

test('SIGKILL of a worker while a reducer is half-way through its partition: the reader restarts on the replica', async () => {
  let resubmits = 0;
  const { cluster, lm, procs } = await startJobEnv({
    replicate: true,
    workerArgs: ['--chunk-size', '16k'],
    client: { fetchAhead: 1 },
    lifecycle: { maxFetchFailures: 1, onUnregisterAllMapOutput: () => resubmits++ },
  });
  const shuffleId = 22;
  const maps = await runMaps(procs, mapSpecs(shuffleId, M, R, 6000, BATCHES, { maxSize: 64 * 1024 }));
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);

  // A partition whose primary copy has many chunks: the reader pauses after its first batches.
  const target = group.partitions
    .map((p) => ({ p, primary: p.files.find((f) => f.mode === 0 && f.epoch === 0)! }))
    .sort((a, b) => b.primary.numChunks - a.primary.numChunks)[0]!;
  expect(target.primary.numChunks).toBeGreaterThanOrEqual(4);
  const victim = cluster.worker(addressKey(target.primary.address));
  const slow = procs[0]!.reduce({ shuffleId, partitionId: target.p.partitionId, pauseAfter: 3 });
  expect(await slow.nextPause()).toBe(3);
  await victim.kill('SIGKILL');
  slow.resume();
  const others = await Promise.all(
    group.partitions.filter((p) => p !== target.p).map((p) => procs[p.partitionId % procs.length]!.reduce({ shuffleId, partitionId: p.partitionId }).result),
  );
  const reads = [await slow.result, ...others];
  expectExact(maps, reads, R);
  // Failing over to a replica is not a fetch failure.
  expect(resubmits).toBe(0);
});

test('SIGTERM of a worker while maps push: its partitions move to other workers as it shuts down; results exact', async () => {
  const { cluster, lm, procs } = await startJobEnv({ replicate: true });
  const shuffleId = 23;
  const runs = mapSpecs(shuffleId, M, R, 5500, BATCHES, { maxSize: 256 * 1024, pauseAt: [FIRST], drainAtPause: true }).map((s, i) => procs[i % procs.length]!.map(s));
  for (const r of runs) expect(await r.nextPause()).toBe(FIRST);
  const first = await lm.registerShuffle(shuffleId, M, R);
  const leaving = cluster.worker(addressKey(first[0]!.primary));
  leaving.child.kill('SIGTERM');
  for (const r of runs) r.resume();
  const maps = await Promise.all(runs.map((r) => r.result));
  await leaving.exited;
  expect(leaving.child.exitCode).toBe(0);

  const reads = await readAll(procs, shuffleId, R);
  expectExact(maps, reads, R);
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  expect(group.partitions.every((p) => !p.lost)).toBe(true);
  // Partitions that were on the leaving worker moved on to new epochs elsewhere.
  const moved = first.filter((loc) => addressKey(loc.primary) === leaving.address || (loc.replica && addressKey(loc.replica) === leaving.address));
  expect(moved.length).toBeGreaterThan(0);
  for (const loc of moved) expect(new Set(group.partitions[loc.partitionId]!.files.map((f) => f.epoch)).size).toBeGreaterThan(1);
});
