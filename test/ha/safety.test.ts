/**
 * Never two leaders serving at once, watched from outside. Two masters on a
 * real etcd; the test probes both continuously with a leader-only request
 * (ApplicationHeartbeat), and after every answer the standby served it asks
 * etcd whether the old leader's election key (which lives exactly as long
 * as its lease) still exists. The leader is frozen with SIGSTOP for longer
 * than its lease TTL (as a long GC pause or a stalled VM would), with a
 * request waiting in its socket, then resumed with SIGCONT.
 *
 * Checked: the standby serves only once the old leader's lease is gone on
 * etcd's side; the old leader, resumed, serves nothing decided after the
 * standby started serving: the request that waited for it is refused.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Etcd3 } from 'etcd3';
import { expect, test } from 'vitest';
import { ApplicationHeartbeat, ErrorCodes, Role, asBraidError, parseAddress } from '../../src/protocol/index.js';
import { connect, type Connection } from '../../src/transport/index.js';
import { onCleanup, sleep, waitFor, type ServerProcess } from '../e2e/cluster.js';
import { appIdentity } from '../security/fixture.js';
import { HaCluster, LEASE_TTL_MS } from './ha-cluster.js';

interface Probe {
  master: 'old' | 'new';
  sentAt: number;
  answeredAt: number;
  /** '' when served, else the refusal's code. */
  code: string;
}

async function probeConn(m: ServerProcess): Promise<Connection> {
  const conn = await connect(parseAddress(m.address), { role: Role.LifecycleManager, ...appIdentity('watcher') });
  onCleanup(() => conn.close());
  return conn;
}

test('a standby never serves while the leader holds its lease; a leader resumed after SIGSTOP past its TTL serves nothing', async () => {
  const cluster = await HaCluster.start({ masters: 2, workers: 0 });
  const old = await cluster.waitForLeader();
  const next = cluster.masters.find((m) => m !== old)!;
  const etcd = new Etcd3({ hosts: `http://${cluster.etcd.endpoint}` });
  onCleanup(() => etcd.close());
  const keys = etcd.namespace(`/braid/test-${process.pid}/election/`);
  const [oldKey] = await keys.getAll().sort('Create', 'Ascend').limit(1).keys();
  expect(oldKey).toBeDefined();

  const probes: Probe[] = [];
  const violations: string[] = [];
  let firstServedByNew: number | undefined;
  let running = true;
  // The old leader's probes pause around the SIGSTOP, so that the next one is surely sent to the frozen process.
  let holdOld: Promise<void> | undefined;
  let oldIdle: () => void = () => undefined;
  const loop = async (name: Probe['master'], conn: Connection, timeoutMs: number): Promise<void> => {
    while (running) {
      if (name === 'old' && holdOld !== undefined) {
        oldIdle();
        await holdOld;
      }
      const sentAt = performance.now();
      const code = await conn.call(ApplicationHeartbeat, { appId: 'watcher', shuffleIds: [] }, timeoutMs).then(
        () => '',
        (err: unknown) => asBraidError(err).code,
      );
      const answeredAt = performance.now();
      probes.push({ master: name, sentAt, answeredAt, code });
      if (name === 'new' && code === '') {
        firstServedByNew ??= answeredAt;
        // Leases never come back: a key still there now was there all the while the standby served.
        if ((await keys.get(oldKey!).string()) !== null) violations.push(`the standby served at ${answeredAt.toFixed(0)} ms while the old leader's key ${oldKey} existed`);
      }
      await sleep(20);
    }
  };
  // The old leader's probes wait long: the one sent while it is frozen is answered when it resumes.
  const loops = [loop('old', await probeConn(old), 30_000), loop('new', await probeConn(next), 2000)];
  await sleep(500);

  let release: () => void = () => undefined;
  const idle = new Promise<void>((resolve) => (oldIdle = resolve));
  holdOld = new Promise((resolve) => (release = resolve));
  await idle;
  const stoppedAt = performance.now();
  old.child.kill('SIGSTOP');
  // A signal takes effect when the process is next scheduled: probe only once it has.
  await waitFor(() => readFileSync(`/proc/${old.child.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('T') === true, 5000, 'the leader to stop');
  holdOld = undefined;
  release();
  await waitFor(() => firstServedByNew !== undefined, LEASE_TTL_MS + 15_000, 'the standby to serve');
  await sleep(300);
  const resumedAt = performance.now();
  old.child.kill('SIGCONT');
  await waitFor(() => probes.some((p) => p.master === 'old' && p.answeredAt > resumedAt), 10_000, 'the old leader to answer after SIGCONT');
  await sleep(1000);
  running = false;
  await Promise.all(loops);

  expect(violations).toEqual([]);
  // The standby took over while the old leader was frozen, and not before the freeze.
  expect(firstServedByNew!).toBeGreaterThan(stoppedAt);
  expect(firstServedByNew!).toBeLessThan(resumedAt);
  // A request sent to a stopped process is decided after it resumes.
  const decidedAfter = (p: Probe): number => (p.sentAt > stoppedAt ? Math.max(p.sentAt, resumedAt) : p.sentAt);
  const oldProbes = probes.filter((p) => p.master === 'old');
  expect(oldProbes.some((p) => p.code === '' && p.answeredAt < stoppedAt), 'the old leader served before the freeze').toBe(true);
  const waited = oldProbes.filter((p) => p.sentAt > stoppedAt && p.sentAt < resumedAt);
  expect(waited.length, 'a request waited in the frozen leader').toBeGreaterThan(0);
  for (const p of waited) expect([ErrorCodes.NOT_LEADER, ErrorCodes.NO_LEADER]).toContain(p.code);
  expect(oldProbes.filter((p) => p.code === '' && decidedAfter(p) > firstServedByNew!)).toEqual([]);
  // The resumed master knows it stepped down, and names the new leader.
  await waitFor(async () => (await cluster.status(old)).ha.role === 'standby', 10_000, 'the old leader to stand by');
  expect((await cluster.status(old)).ha).toMatchObject({ stepDowns: 1, leader: next.address });
}, 120_000);
