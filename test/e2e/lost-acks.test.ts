/**
 * Lost acknowledgements. What is simulated: a worker that takes pushes but
 * answers too late. The worker process is frozen with SIGSTOP for about a
 * second in the middle of the map stage while clients push with a 300 ms
 * push timeout. Pushes to it (as primary, or through it as replica) time
 * out; the clients revive the partitions to new epochs on other workers and
 * send the batches again. When the worker is thawed (SIGCONT) it still
 * processes the frames waiting in its sockets, so those batches ALSO land
 * in the old epochs: the same (mapId, attemptId, batchId) is stored twice.
 * Readers must emit each batch exactly once and the per-partition CRC check
 * against what the winners reported must pass.
 *
 * (A TCP proxy dropping PushResponse frames would need the clients to reach
 * the worker through the proxy, but clients learn worker addresses from the
 * master and a worker can only announce the address it listens on.)
 */
import { expect, test } from 'vitest';
import { sleep } from './cluster.js';
import { committedBytes, epochsPerPartition, expectExact, mapSpecs, readAll, startJobEnv } from './job.js';

const M = 6;
const R = 8;
const BATCHES = 40;
const FIRST = 15;

test('a worker frozen past the push timeout: batches resent elsewhere and also stored late are read once', async () => {
  const { cluster, lm, procs } = await startJobEnv({
    replicate: true,
    masterArgs: ['--worker-timeout', '4s'],
    client: { pushTimeoutMs: 300, maxPushRetries: 8 },
  });
  const shuffleId = 5;
  const frozen = cluster.workers[0]!;
  const runs = mapSpecs(shuffleId, M, R, 3000, BATCHES, { maxSize: 256 * 1024, pauseAt: [FIRST, BATCHES], drainAtPause: true }).map((s, i) =>
    procs[i % procs.length]!.map(s),
  );
  for (const r of runs) expect(await r.nextPause()).toBe(FIRST);

  frozen.child.kill('SIGSTOP');
  const frozenAt = Date.now();
  try {
    for (const r of runs) r.resume();
    // Every map pushes the rest; the pushes that went to the frozen worker time out and are resent elsewhere.
    for (const r of runs) expect(await r.nextPause()).toBe(BATCHES);
    await sleep(Math.max(0, 1000 - (Date.now() - frozenAt)));
  } finally {
    frozen.child.kill('SIGCONT');
  }
  // Let the thawed worker take what waited in its sockets before the stage ends and commits.
  await sleep(300);
  for (const r of runs) r.resume();
  const maps = await Promise.all(runs.map((r) => r.result));

  const reads = await readAll(procs, shuffleId, R);
  expectExact(maps, reads, R);

  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  const wire = maps.reduce((n, m) => n + m.wireBytes, 0);
  // Some batches were stored twice (the timed-out push and its resend) ...
  expect(committedBytes(group).primary).toBeGreaterThan(wire);
  // ... because partitions moved to new epochs away from the frozen worker.
  expect(epochsPerPartition(group).some((n) => n > 1)).toBe(true);
  expect(group.partitions.every((p) => !p.lost)).toBe(true);
});
