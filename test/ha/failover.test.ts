/**
 * kill -9 of the leading master in the middle of a job, with three masters
 * elected through a real etcd: during the push phase, during the stage-end
 * commit, and during the reads. Each time the job (a TeraSort through task
 * processes, replication on, split thresholds so small that pushes keep
 * waiting for revives, which ask the master for slots) completes and validates, and no task attempt
 * failed: the job's task-failure count is zero. The killed master is started
 * again on its port between the jobs, as an operator would, and comes back
 * as a standby.
 */
import { expect, test } from 'vitest';
import { runJob, type Phase } from '../../src/jobs/runner/driver.js';
import { waitFor, type ServerProcess } from '../e2e/cluster.js';
import { jobSecurity } from '../security/fixture.js';
import { HaCluster } from './ha-cluster.js';

const RECORDS = 300_000; // 30 MB
const MAPS = 6;
const REDUCES = 6;

type Moment = 'push' | 'commit' | 'read';

/** When to pull the trigger, from the job's progress. */
function due(moment: Moment, phase: Phase, done: number, total: number, bytes: number): boolean {
  if (moment === 'push') return phase === 'map' && done < total && bytes >= (RECORDS * 100) / 3;
  // The last map just ended: the LifecycleManager is committing the stage.
  if (moment === 'commit') return phase === 'map' && done === total;
  return phase === 'reduce' && done >= 1 && done < total;
}

async function jobKillingLeader(cluster: HaCluster, moment: Moment, seed: number): Promise<ServerProcess> {
  const leader = await cluster.waitForLeader();
  let killed: Promise<void> | undefined;
  const result = await runJob({
    job: 'terasort',
    params: { totalRecords: RECORDS, seed },
    numMaps: MAPS,
    numReduces: REDUCES,
    master: cluster.masterList,
    ...jobSecurity(),
    processes: 2,
    replicate: true,
    appId: `ha-${moment}-${process.pid}`,
    // Partitions split every 512 KiB: revives ask the master for slots all through the push phase.
    lifecycle: { splitThreshold: 512 * 1024, heartbeatIntervalMs: 200, masterFailoverTimeoutMs: 20_000 },
    onProgress(phase, done, total, bytes) {
      if (killed === undefined && due(moment, phase, done, total, bytes)) killed = leader.kill('SIGKILL');
    },
  });
  expect(killed, `the leader was killed during the ${moment}`).toBeDefined();
  await killed;
  expect(result.summary.problems).toEqual([]);
  expect(result.summary.validated).toBe(true);
  expect(result.taskFailures, `task attempts failed after a kill during the ${moment}`).toEqual([]);

  // The new leader rebuilds its view from heartbeats (the job may have ended before it was even elected).
  const next = await cluster.waitForLeader(leader);
  const everyWorker = async () => (await cluster.status(next)).workers.filter((w) => !w.lost).length === cluster.workers.length;
  await waitFor(everyWorker, 15_000, 'every worker known to the new leader');
  expect((await cluster.status(next)).ha.failovers).toBeGreaterThanOrEqual(1);
  if (moment === 'push') {
    // Revives after the kill got their slots from the new leader.
    expect(await next.counter('braid_rpc_requests_total', 'method="RequestSlots"')).toBeGreaterThan(0);
  }
  return leader;
}

test('kill -9 of the leader during the push phase, the commit and the reads: every job validates, no task fails', async () => {
  // A partition file takes at most 1 MiB: past it pushes answer HARD_SPLIT and wait for a revive, which needs the master.
  const cluster = await HaCluster.start({ workerArgs: ['--split-threshold', '512k', '--hard-split-limit', '1m'] });
  let seed = 11;
  for (const moment of ['push', 'commit', 'read'] as const) {
    const dead = await jobKillingLeader(cluster, moment, seed++);
    await cluster.restartMaster(dead);
  }
  // Three failovers, three different terms; the restarted masters stand by.
  const leader = await cluster.waitForLeader();
  const roles = await Promise.all(cluster.masters.map(async (m) => (await cluster.status(m)).ha.role));
  expect(roles.filter((r) => r === 'standby')).toHaveLength(2);
  expect((await cluster.status(leader)).ha.term).toBeGreaterThan(0);
}, 240_000);
