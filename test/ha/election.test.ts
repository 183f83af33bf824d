/**
 * Masters elected through a real etcd, as real processes: one leads, the
 * others stand by and name it; a standby refuses every master RPC but
 * MasterInfo with BRAID_ERR_NOT_LEADER; clients given every master's
 * address follow the leader; a leader stopped cleanly resigns, and another
 * takes over at once instead of after the lease TTL.
 */
import { expect, test } from 'vitest';
import { MasterClient } from '../../src/ha/master-client.js';
import { ApplicationHeartbeat, ErrorCodes, GetStatus, MasterInfo, MasterRole, RequestSlots, Role, isBraidError, parseAddress } from '../../src/protocol/index.js';
import { connect } from '../../src/transport/index.js';
import { onCleanup } from '../e2e/cluster.js';
import { run, CLI } from '../product/helpers.js';
import { appIdentity } from '../security/fixture.js';
import { HaCluster, LEASE_TTL_MS } from './ha-cluster.js';

test('one master leads; standbys name it, refuse with NOT_LEADER, and clients follow the leader', async () => {
  const cluster = await HaCluster.start({ workers: 2 });
  const leader = await cluster.waitForLeader();
  const standbys = cluster.masters.filter((m) => m !== leader);

  for (const s of standbys) {
    const st = await cluster.status(s);
    expect(st.ha).toMatchObject({ mode: 'etcd', role: 'standby', leader: leader.address });
    expect(st.workers).toEqual([]);
    const conn = await connect(parseAddress(s.address), { role: Role.LifecycleManager, ...appIdentity('app-x') });
    onCleanup(() => conn.close());
    const info = await conn.call(MasterInfo, {});
    expect(info).toMatchObject({ role: MasterRole.Standby, leader: leader.address });
    expect(info.term).toBeGreaterThan(0);
    const refused = await conn.call(RequestSlots, { appId: 'app-x', shuffleId: 0, count: 1, replicate: false, excluded: [] }).catch((e: unknown) => e);
    expect(isBraidError(refused, ErrorCodes.NOT_LEADER)).toBe(true);
    expect((refused as Error).message).toContain(leader.address);
  }
  expect((await cluster.status(leader)).ha).toMatchObject({ role: 'leader', leader: leader.address, elections: 1 });
  // Metrics say which master leads and each one's role.
  expect(await leader.counter('braid_master_leader')).toBe(1);
  expect(await leader.counter('braid_master_role', 'role="leader"')).toBe(1);
  for (const s of standbys) {
    expect(await s.counter('braid_master_leader')).toBe(0);
    expect(await s.counter('braid_master_role', 'role="standby"')).toBe(1);
    expect(await s.counter('braid_master_role', 'role="leader"')).toBe(0);
  }

  // A client that knows the masters in an order that puts a standby first is redirected to the leader.
  const client = new MasterClient({
    masters: [...standbys, leader].map((m) => parseAddress(m.address)),
    connect: { role: Role.LifecycleManager, ...appIdentity('app-y') },
    failoverTimeoutMs: 5000,
  });
  onCleanup(() => client.close());
  await client.call(ApplicationHeartbeat, { appId: 'app-y', shuffleIds: [3] });
  expect(`${client.leader.host}:${client.leader.port}`).toBe(leader.address);
  const status = JSON.parse((await client.call(GetStatus, {})).json.toString()) as { applications: { appId: string; shuffles: number[] }[] };
  expect(status.applications).toEqual([expect.objectContaining({ appId: 'app-y', shuffles: [3] })]);

  // The CLI shows each master's role and the leader's status.
  const cli = await run([CLI, 'status', '--master', cluster.masterList], 30_000);
  expect(cli.code, cli.stderr).toBe(0);
  const shown = JSON.parse(cli.stdout) as { ha: { role: string }; masters: { address: string; role: string }[]; workers: unknown[] };
  expect(shown.ha.role).toBe('leader');
  expect(shown.workers).toHaveLength(2);
  expect(shown.masters.map((m) => m.role).sort()).toEqual(['leader', 'standby', 'standby']);
});

test('a leader stopped with SIGTERM resigns: a standby leads well before the lease TTL', async () => {
  const cluster = await HaCluster.start({ workers: 1 });
  const leader = await cluster.waitForLeader();
  const stopped = Date.now();
  await leader.kill('SIGTERM');
  const next = await cluster.waitForLeader(leader);
  const took = Date.now() - stopped;
  expect(next).not.toBe(leader);
  expect(took).toBeLessThan(LEASE_TTL_MS);
  expect((await cluster.status(next)).ha.failovers).toBeGreaterThanOrEqual(1);
  expect(await next.counter('braid_master_failovers_total')).toBeGreaterThanOrEqual(1);
  expect(await next.counter('braid_master_elections_total')).toBe(1);
  expect(await next.counter('braid_master_term')).toBe((await cluster.status(next)).ha.term);
});
