/**
 * Issue 8 item 8: a graceful stop (SIGTERM) without replication must not lose
 * data. The stopping worker turns new pushes away (HARD_SPLIT) but keeps
 * listening until the stage-end commit of the shuffles it holds has reached
 * it, then stops. Restarted on the same address and data directory (a rolling
 * restart), it serves what it committed, and the job reads back exactly.
 */
import { expect, test } from 'vitest';
import { addressKey } from '../../src/protocol/index.js';
import { expectExact, mapSpecs, readAll, startJobEnv } from './job.js';

const M = 6;
const R = 8;
const BATCHES = 40;
const FIRST = 15;

test('SIGTERM mid-stage without replication: the worker waits for the commit, no partition is lost, a restart serves it all', async () => {
  const { cluster, lm, procs } = await startJobEnv({ replicate: false, workerArgs: ['--log-format', 'json'] });
  const shuffleId = 31;
  const runs = mapSpecs(shuffleId, M, R, 7100, BATCHES, { maxSize: 128 * 1024, pauseAt: [FIRST], drainAtPause: true }).map((s, i) => procs[i % procs.length]!.map(s));
  for (const r of runs) expect(await r.nextPause()).toBe(FIRST);

  // The worker holding the most partitions, with data from every map on it already.
  const current = await lm.registerShuffle(shuffleId, M, R);
  const count = new Map<string, number>();
  for (const loc of current) count.set(addressKey(loc.primary), (count.get(addressKey(loc.primary)) ?? 0) + 1);
  const [victimAddress] = [...count.entries()].sort((a, b) => b[1] - a[1])[0]!;
  const victim = cluster.worker(victimAddress);
  victim.child.kill('SIGTERM');
  for (const r of runs) r.resume();
  const maps = await Promise.all(runs.map((r) => r.result));
  await victim.exited;
  expect(victim.child.exitCode).toBe(0);

  // The stage-end commit reached the stopping worker: nothing counts as lost.
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  expect(group.partitions.filter((p) => p.lost).map((p) => p.partitionId)).toEqual([]);
  expect(group.partitions.some((p) => p.files.some((f) => addressKey(f.address) === victimAddress))).toBe(true);
  // Its log says what it waited for.
  const waited = victim.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; shuffles?: unknown })
    .find((e) => e.msg === 'waiting for commits before stopping');
  expect(waited?.shuffles).toEqual([expect.objectContaining({ key: `${lm.appId}-${shuffleId}` })]);

  await cluster.restartWorker(victim);
  const reads = await readAll(procs, shuffleId, R);
  expectExact(maps, reads, R);
});
