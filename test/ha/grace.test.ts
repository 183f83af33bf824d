/**
 * A new leader's grace period, on masters elected through a real etcd (in
 * this process, with fake workers and a fake LifecycleManager speaking the
 * protocol). While a leader rebuilds its view, workers that only heartbeat
 * are taken in as registered, the slots they report holding are counted
 * again, and slot requests wait. The grace period ends once every worker of
 * the roster the previous leader published is back, long before its
 * `leaderGrace`; a cluster's first leader has no roster and waits its whole
 * `leaderGrace`. After it, an unknown worker must register.
 */
import { Etcd3 } from 'etcd3';
import { expect, test } from 'vitest';
import { Role } from '../../src/protocol/index.js';
import type { MasterHandle } from '../../src/server/master/index.js';
import { onCleanup } from '../e2e/cluster.js';
import { FakeWorker, client, lifecycle, master, waitFor } from '../master/helpers.js';
import { startEtcd, type EtcdServer } from './etcd.js';

const GRACE_MS = 30_000;

function candidate(etcd: EtcdServer, leaderGraceMs: number): Promise<MasterHandle> {
  return master({ etcd: [etcd.endpoint], leaseTtlMs: 2000, leaderGraceMs, heartbeatIntervalMs: 200, workerTimeoutMs: 5000, clusterName: 'grace' });
}

async function fakeWorkers(m: MasterHandle, addresses: string[]): Promise<FakeWorker[]> {
  const conn = await client(m, Role.Worker);
  return addresses.map((a) => new FakeWorker(conn, a));
}

test("a new leader's grace period: heartbeats register workers, slot counts are adopted, slot requests wait until the roster is back", async () => {
  const etcd = await startEtcd();
  const first = await candidate(etcd, 1500);
  await waitFor(() => first.status().ha.role === 'leader', 15_000);
  // A cluster's first leader has no roster: it waits its whole grace period.
  expect(first.status().graceRemainingMs).toBeGreaterThan(0);
  await waitFor(() => first.status().graceRemainingMs === 0, 5000);
  const second = await candidate(etcd, GRACE_MS);
  await waitFor(() => second.status().ha.role === 'standby', 15_000);

  const addresses = ['10.0.0.1:9000', '10.0.0.2:9000'];
  for (const w of await fakeWorkers(first, addresses)) await w.register();
  // The leader publishes the workers it knows for its successor.
  const kv = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  onCleanup(() => kv.close());
  await waitFor(async () => (await kv.get('/braid/grace/workers').string()) === JSON.stringify(addresses), 5000);

  await first.close();
  await waitFor(() => second.status().ha.role === 'leader', 15_000);
  expect(second.status().graceRemainingMs).toBeGreaterThan(0);

  // The application announces its shuffle; the workers only heartbeat, reporting the files they hold.
  const lm = await lifecycle(second, 'app-1');
  await lm.heartbeat([0]);
  const [w1, w2] = await fakeWorkers(second, addresses);
  for (const [i, w] of [w1!, w2!].entries()) {
    w.activeShuffleKeys = ['app-1-0'];
    w.slots.set('app-1-0', 4 + i);
  }
  expect((await w1!.heartbeat()).registered).toBe(true);
  let answered = false;
  const slots = lm.slots(1, 2, true).finally(() => (answered = true));
  await new Promise((r) => setTimeout(r, 300));
  expect(answered, 'a slot request waits while a worker of the roster is missing').toBe(false);
  expect((await w2!.heartbeat()).registered).toBe(true);
  // The roster is complete: the grace period is over long before its 30 s.
  const res = await slots;
  expect(second.status().graceRemainingMs).toBe(0);
  expect(new Set(res.slots.flatMap((s) => [s.primary.host, s.replica?.host]))).toEqual(new Set(['10.0.0.1', '10.0.0.2']));
  const rebuilt = second.status();
  expect(rebuilt.workers.map((w) => w.address)).toEqual(addresses);
  const shuffle = rebuilt.shuffles.find((s) => s.key === 'app-1-0');
  expect(shuffle).toMatchObject({ slots: 9, slotsByWorker: { '10.0.0.1:9000': 4, '10.0.0.2:9000': 5 } });

  // Past the grace period, a worker the leader does not know is told to register.
  const [stranger] = await fakeWorkers(second, ['10.0.0.3:9000']);
  expect((await stranger!.heartbeat()).registered).toBe(false);
}, 90_000);
