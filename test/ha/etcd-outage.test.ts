/**
 * etcd itself unreachable. The leader cannot renew its lease, so it steps
 * down once the lease may have expired (within the TTL), and no master
 * leads: a new job fails with BRAID_ERR_MASTER_UNAVAILABLE, within its
 * LifecycleManager's failover budget, instead of hanging. etcd back on the
 * same address, the masters elect a leader again and a new job runs.
 */
import { expect, test } from 'vitest';
import { runJob } from '../../src/jobs/runner/driver.js';
import { ErrorCodes, asBraidError } from '../../src/protocol/index.js';
import { waitFor } from '../e2e/cluster.js';
import { jobSecurity } from '../security/fixture.js';
import { HaCluster, LEASE_TTL_MS } from './ha-cluster.js';

function job(cluster: HaCluster, name: string) {
  return runJob({
    job: 'terasort',
    params: { totalRecords: 20_000, seed: 5 },
    numMaps: 2,
    numReduces: 2,
    master: cluster.masterList,
    ...jobSecurity(),
    processes: 1,
    replicate: true,
    appId: `outage-${name}-${process.pid}`,
    lifecycle: { heartbeatIntervalMs: 200, masterFailoverTimeoutMs: 3000 },
  });
}

test('etcd stopped: the leader steps down within the TTL and jobs fail with a coded error; etcd back: a leader again, jobs run', async () => {
  const cluster = await HaCluster.start({ workers: 2 });
  const leader = await cluster.waitForLeader();

  const stoppedAt = Date.now();
  await cluster.etcd.stop('SIGKILL');
  await waitFor(async () => (await cluster.status(leader)).ha.role !== 'leader', LEASE_TTL_MS + 5000, 'the leader to step down');
  const steppedDownMs = Date.now() - stoppedAt;
  expect(steppedDownMs).toBeLessThanOrEqual(LEASE_TTL_MS + 1000);
  const ha = (await cluster.status(leader)).ha;
  expect(ha).toMatchObject({ role: 'candidate', leader: null, stepDowns: 1 });
  expect(ha.lastStepDown?.reason).toMatch(/lease/);
  expect(await cluster.leaders()).toEqual([]);

  const started = Date.now();
  const failed = await job(cluster, 'down').then(
    () => undefined,
    (err: unknown) => asBraidError(err),
  );
  expect(failed?.code).toBe(ErrorCodes.MASTER_UNAVAILABLE);
  expect(failed?.message).toMatch(/NO_LEADER/);
  // Two attempts of a task, each giving up after the 3 s budget: seconds, not a hang.
  expect(Date.now() - started).toBeLessThan(30_000);

  await cluster.etcd.launch();
  const back = await cluster.waitForLeader(undefined, 30_000);
  await waitFor(async () => (await cluster.status(back)).workers.filter((w) => !w.lost).length === 2, 15_000, 'workers back with the leader');
  const ok = await job(cluster, 'up');
  expect(ok.summary.validated).toBe(true);
  expect(ok.taskFailures).toEqual([]);
}, 120_000);
