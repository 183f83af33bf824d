/**
 * The lease a leader serves under, against a real etcd, in this process:
 * keepalives keep it; its validity is decided at the moment it is asked,
 * so a leader whose event loop stalled past its lease does not lead when it
 * wakes, before any timer or I/O of its own has run; and the deadline is
 * counted from when each keepalive was sent, less the clock-rate allowance
 * and the serving margin.
 */
import { Etcd3 } from 'etcd3';
import { expect, test } from 'vitest';
import { EtcdElection } from '../../src/ha/etcd-election.js';
import { CLOCK_RATE_ALLOWANCE, LeaseKeeper, SERVE_MARGIN_MS, heldForMs } from '../../src/ha/lease-keeper.js';
import { createLogger } from '../../src/log/index.js';
import { onCleanup, sleep, waitFor } from '../e2e/cluster.js';
import { startEtcd, type EtcdServer } from './etcd.js';

const log = createLogger({ level: 'silent' });

function election(etcd: EtcdServer, self: string, ttlSeconds = 2): EtcdElection {
  const e = new EtcdElection({ endpoints: [etcd.endpoint], prefix: `/braid/lease-test-${process.pid}/`, ttlSeconds, self, log });
  onCleanup(() => e.close());
  e.start();
  return e;
}

test('a lease of TTL t is held for t × (1 - allowance) - margin after the keepalive was sent', () => {
  expect(heldForMs(10)).toBeCloseTo(10_000 * (1 - CLOCK_RATE_ALLOWANCE) - SERVE_MARGIN_MS);
  expect(heldForMs(2)).toBe(1700);
});

test('validity is read from the clock when asked: no timer has to run for a lapsed lease to count as lost', async () => {
  const etcd = await startEtcd();
  const client = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  onCleanup(() => client.close());
  let now = 1_000_000;
  const lease = client.lease(2, { autoKeepAlive: false });
  await lease.grant();
  onCleanup(() => lease.revoke().catch(() => undefined));
  const keeper = new LeaseKeeper(lease, 2, now, () => now);
  onCleanup(() => keeper.stop());
  expect(keeper.isValid()).toBe(true);
  now += heldForMs(2) - 1;
  expect(keeper.isValid()).toBe(true);
  now += 1;
  expect(keeper.isValid()).toBe(false);
});

test('keepalives hold the leadership over many TTLs; a stalled event loop past the lease wakes up not leading', async () => {
  const etcd = await startEtcd();
  const candidate = election(etcd, '127.0.0.1:1');
  await waitFor(() => candidate.isLeader(), 15_000, 'the only candidate to lead');
  await sleep(3 * 2000);
  expect(candidate.isLeader()).toBe(true);
  expect(candidate.status()).toMatchObject({ role: 'leader', elections: 1, stepDowns: 0 });

  const steppedDown = new Promise<string>((resolve) => candidate.once('stepped-down', resolve));
  // Stall this very event loop past the TTL: no keepalive, no timer, no I/O can run meanwhile.
  const until = Date.now() + 2200;
  while (Date.now() < until);
  // Asked before anything else runs, it already knows it may not lead.
  expect(candidate.isLeader()).toBe(false);
  expect(await steppedDown).toMatch(/lease/);
  // It campaigns again: with no rival it leads again, in a newer term.
  const firstTerm = candidate.status().term;
  await waitFor(() => candidate.isLeader(), 15_000, 'leading again');
  expect(candidate.status().term).toBeGreaterThan(firstTerm);
  expect(candidate.status()).toMatchObject({ elections: 2, stepDowns: 1 });
}, 60_000);
