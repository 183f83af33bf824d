/**
 * Fetch failures through the real path, replication off: a worker dies and
 * a reducer of a partition it held fails with a coded error, reports the
 * failure to the LifecycleManager, and (with maxFetchFailures 1) the manager
 * asks the engine to re-run the map stage via onUnregisterAllMapOutput.
 * Killed after the commit the file is unreachable (FETCH_FAILED); killed
 * before it, the epoch has no committed copy (DATA_LOST). Then the re-run
 * itself: new attempts of every map, read exactly (and a known bug when the
 * re-run follows a lost worker).
 */
import { expect, test } from 'vitest';
import { addressKey } from '../../src/protocol/index.js';
import { ErrorCodes } from '../../src/protocol/errors.js';
import { expectExact, mapSpecs, readAll, runMaps, startJobEnv } from './job.js';
import { TaskProcess } from './tasks.js';

const M = 6;
const R = 8;

async function env() {
  const resubmits: number[] = [];
  const e = await startJobEnv({ replicate: false, lifecycle: { maxFetchFailures: 1, onUnregisterAllMapOutput: (id) => resubmits.push(id) } });
  return { ...e, resubmits };
}

test('worker killed after commit: FETCH_FAILED, reported, map stage re-run requested', async () => {
  const { cluster, lm, procs, resubmits } = await env();
  const shuffleId = 31;
  await runMaps(procs, mapSpecs(shuffleId, M, R, 7000, 30, { maxSize: 64 * 1024 }));
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  const victimAddress = addressKey(group.partitions[0]!.files[0]!.address);
  const held = group.partitions.filter((p) => p.files.some((f) => addressKey(f.address) === victimAddress));
  const spared = group.partitions.find((p) => !held.includes(p))!;
  expect(spared).toBeDefined();
  await cluster.worker(victimAddress).kill('SIGKILL');

  // A partition on the surviving workers still reads.
  const ok = await procs[1]!.reduce({ shuffleId, partitionId: spared.partitionId }).result;
  expect(ok.digests.length).toBeGreaterThan(0);
  expect(resubmits).toEqual([]);

  const failed = procs[0]!.reduce({ shuffleId, partitionId: held[0]!.partitionId }).result;
  await expect(failed).rejects.toMatchObject({ code: ErrorCodes.FETCH_FAILED, message: expect.stringContaining('re-run') });
  expect(resubmits).toEqual([shuffleId]);
});

test('worker killed before commit: DATA_LOST, reported, map stage re-run requested', async () => {
  const { cluster, lm, procs, resubmits } = await env();
  const shuffleId = 32;
  const runs = mapSpecs(shuffleId, M, R, 8000, 30, { maxSize: 64 * 1024, pauseAt: [30], drainAtPause: true }).map((s, i) => procs[i % procs.length]!.map(s));
  for (const r of runs) await r.nextPause();
  // Every batch is acknowledged; the stage has not ended, so nothing is committed yet.
  const current = await lm.registerShuffle(shuffleId, M, R);
  const victimAddress = addressKey(current[0]!.primary);
  await cluster.worker(victimAddress).kill('SIGKILL');
  for (const r of runs) r.resume();
  await Promise.all(runs.map((r) => r.result));

  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  expect(group.partitions[0]!.lost).toBe(true);
  const failed = procs[0]!.reduce({ shuffleId, partitionId: 0 }).result;
  await expect(failed).rejects.toMatchObject({ code: ErrorCodes.DATA_LOST });
  expect(resubmits).toEqual([shuffleId]);
});

test('a map stage re-run after a fetch failure is read exactly (its pushes to committed epochs revive to new ones)', async () => {
  const { appId, cluster, lm, procs, resubmits } = await env();
  const shuffleId = 33;
  const specs = mapSpecs(shuffleId, M, R, 9000, 30, { maxSize: 64 * 1024 });
  await runMaps(procs, specs);
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  // The worker becomes unresponsive for a while (frozen): a reader with a short timeout fails and reports.
  // (It reads once before, so that its connection exists: connecting to a frozen worker takes the 10 s
  // handshake timeout, whatever fetchTimeoutMs says.)
  const frozen = cluster.worker(addressKey(group.partitions[0]!.files[0]!.address));
  const impatient = await TaskProcess.start(appId, addressKey(lm.address), { fetchTimeoutMs: 500 });
  await impatient.reduce({ shuffleId, partitionId: 0 }).result;
  frozen.child.kill('SIGSTOP');
  try {
    await expect(impatient.reduce({ shuffleId, partitionId: 0 }).result).rejects.toMatchObject({ code: ErrorCodes.FETCH_FAILED });
  } finally {
    frozen.child.kill('SIGCONT');
  }
  expect(resubmits).toEqual([shuffleId]);

  // The engine re-runs the whole map stage with new attempt ids, in the same task processes. Their
  // first pushes go to the committed epochs, whose workers answer MAP_ENDED (they know the old winners).
  const rerun = await runMaps(procs, specs.map((s) => ({ ...s, attemptId: 1 })));
  expect(rerun.every((m) => m.winner)).toBe(true);
  const reads = await readAll(procs, shuffleId, R);
  expectExact(rerun, reads, R);
  expect((await lm.getReducerFileGroup(shuffleId, 0, R)).mapAttempts).toEqual([1, 1, 1, 1, 1, 1]);
});

/**
 * After a stage re-run, the epochs committed by the first attempt (some on
 * the lost worker) hold only the old attempts' maps; the reducer file group
 * leaves them out, so they neither fail the read nor are read at all.
 */
test('after a worker is lost and the map stage re-run, its partitions are read exactly from the new epochs', async () => {
  const { cluster, lm, procs, resubmits } = await env();
  const shuffleId = 34;
  const specs = mapSpecs(shuffleId, M, R, 9500, 30, { maxSize: 64 * 1024 });
  await runMaps(procs, specs);
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  await cluster.worker(addressKey(group.partitions[0]!.files[0]!.address)).kill('SIGKILL');
  await expect(procs[0]!.reduce({ shuffleId, partitionId: 0 }).result).rejects.toMatchObject({ code: ErrorCodes.FETCH_FAILED });
  expect(resubmits).toEqual([shuffleId]);

  const rerun = await runMaps(procs, specs.map((s) => ({ ...s, attemptId: 1 })));
  const reads = await readAll(procs, shuffleId, R);
  expectExact(rerun, reads, R);
});
