/**
 * A new leader's grace period, on a master elected through a real etcd (in
 * this process, with fake workers and a fake LifecycleManager speaking the
 * protocol): workers that only heartbeat are taken in as registered, the
 * slots they report holding are counted again, and slot requests wait until
 * the grace period is over, so that they are spread over every worker that
 * came back. After the grace period an unknown worker must register.
 */
import { expect, test } from 'vitest';
import { Role } from '../../src/protocol/index.js';
import { FakeWorker, client, lifecycle, master, waitFor } from '../master/helpers.js';
import { startEtcd } from './etcd.js';

test("a new leader's grace period: heartbeats register workers, their slot counts are adopted, slot requests wait for its end", async () => {
  const etcd = await startEtcd();
  const m = await master({ etcd: [etcd.endpoint], leaseTtlMs: 2000, leaderGraceMs: 1500, heartbeatIntervalMs: 200, workerTimeoutMs: 5000 });
  await waitFor(() => m.status().ha.role === 'leader', 15_000);
  expect(m.status().graceRemainingMs).toBeGreaterThan(0);

  // The application announces its shuffle; the workers, which a previous leader knew, only heartbeat.
  const lm = await lifecycle(m, 'app-1');
  await lm.heartbeat([0]);
  const conn = await client(m, Role.Worker);
  const workers = ['10.0.0.1:9000', '10.0.0.2:9000'].map((a) => new FakeWorker(conn, a));
  for (const [i, w] of workers.entries()) {
    w.activeShuffleKeys = ['app-1-0'];
    w.slots.set('app-1-0', 4 + i);
    expect((await w.heartbeat()).registered).toBe(true);
  }
  const rebuilt = m.status();
  expect(rebuilt.workers.map((w) => w.address)).toEqual(['10.0.0.1:9000', '10.0.0.2:9000']);
  expect(rebuilt.shuffles).toEqual([expect.objectContaining({ key: 'app-1-0', slots: 9, slotsByWorker: { '10.0.0.1:9000': 4, '10.0.0.2:9000': 5 } })]);

  // Sent during the grace period, answered only once it is over, on both workers.
  expect(m.status().graceRemainingMs).toBeGreaterThan(0);
  const res = await lm.slots(1, 2, true);
  expect(m.status().graceRemainingMs).toBe(0);
  expect(new Set(res.slots.flatMap((s) => [s.primary.host, s.replica?.host]))).toEqual(new Set(['10.0.0.1', '10.0.0.2']));

  // Past the grace period, a worker the leader does not know is told to register.
  expect((await new FakeWorker(conn, '10.0.0.3:9000').heartbeat()).registered).toBe(false);
}, 60_000);
