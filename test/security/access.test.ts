/**
 * Every control RPC from every wrong role, on every server that serves it:
 * refused with BRAID_ERR_FORBIDDEN before anything is decoded or done. Roles
 * a server does not serve at all are refused at the handshake. A
 * well-behaved application keeps working throughout.
 */
import { expect, test } from 'vitest';
import { ALL_ROLES, ErrorCodes, METHODS, MessageType, Role, encodeValue, type Address } from '../../src/protocol/index.js';
import { isClusterRole, roleName, rpcRoles } from '../../src/security/access.js';
import type { Connection } from '../../src/transport/index.js';
import { CONTROL_SAMPLES } from '../protocol/samples.js';
import { appKey, testAppTls, testSecret } from './fixture.js';
import { App, dial, secureCluster } from './harness.js';

const PROBE = 'probe';

/** A decodable request for every method (the access check runs before decoding anyway). */
function body(methodId: number): Buffer {
  const sample = CONTROL_SAMPLES.find((s) => s.method.id === methodId)!;
  return encodeValue(sample.method.request, sample.requests[0]);
}

async function answer(conn: Connection, methodId: number): Promise<string> {
  return conn.request({ type: MessageType.RpcRequest, method: methodId, body: body(methodId) }).then(
    (res) => (res.type === MessageType.RpcFailure ? res.code : 'ok'),
    (err: { code: string }) => err.code,
  );
}

test('the access table names the roles of every control method, and the literal rules hold', () => {
  for (const m of METHODS) expect(rpcRoles(m.id).length, m.name).toBeGreaterThan(0);
  const roles = (name: string) => rpcRoles(METHODS.find((m) => m.name === name)!.id);
  // Reserving, committing and destroying files: the application's LifecycleManager and operators only.
  for (const m of ['ReserveSlots', 'CommitFiles', 'DestroySlots']) expect([...roles(m)].sort()).toEqual([Role.LifecycleManager, Role.Admin].sort());
  expect(roles('RegisterWorker')).toEqual([Role.Worker]);
  expect(roles('WorkerHeartbeat')).toEqual([Role.Worker]);
  expect(roles('RequestSlots')).not.toContain(Role.Client);
  expect(roles('MapperEnd')).toEqual([Role.Client]);
  // Finding the leading master is open to every authenticated role (a standby answers it too).
  expect([...roles('MasterInfo')].sort()).toEqual([...ALL_ROLES].sort());
});

test('every control RPC from every wrong role is refused with BRAID_ERR_FORBIDDEN on master, workers and a LifecycleManager', async () => {
  const c = await secureCluster();
  const good = await App.start(c, 'good');
  const probeApp = await App.start(c, PROBE);
  await good.works();
  const servers: [string, Address][] = [
    ['master', c.masterAddress],
    ['worker', c.workers[0]!.address],
    ['lifecycle manager', probeApp.lm.address],
  ];
  let refusals = 0;
  const forbidden = new Map<string, number>();
  const atTheDoor = new Map<string, string[]>();
  for (const [name, address] of servers) {
    for (const role of ALL_ROLES) {
      const credentials = isClusterRole(role) ? { key: testSecret() } : { appId: PROBE, key: appKey(PROBE), tls: testAppTls() };
      const conn = await dial(c, address, role, credentials).catch((e: { code: string }) => e.code);
      if (typeof conn === 'string') {
        // Roles a server does not serve are refused at the door (a LifecycleManager knows no cluster secret at all).
        expect([ErrorCodes.HANDSHAKE, ErrorCodes.WRONG_APP], `${roleName(role)} → ${name}`).toContain(conn);
        atTheDoor.set(name, [...(atTheDoor.get(name) ?? []), roleName(role)]);
        continue;
      }
      for (const m of METHODS) {
        if (rpcRoles(m.id).includes(role)) continue; // allowed: normal operation exercises it
        const code = await answer(conn, m.id);
        if (code === ErrorCodes.UNKNOWN_METHOD) continue; // this server does not serve the method at all
        expect(code, `${m.name} from a ${roleName(role)} connection to the ${name}`).toBe(ErrorCodes.FORBIDDEN);
        forbidden.set(name, (forbidden.get(name) ?? 0) + 1);
        refusals++;
      }
      expect(conn.isClosed, `${roleName(role)} → ${name} stays open after its refusals`).toBe(false);
    }
  }
  // Master and workers refused many calls; a LifecycleManager lets in its application's tasks only.
  expect(forbidden.get('master')).toBeGreaterThanOrEqual(6);
  expect(forbidden.get('worker')).toBeGreaterThanOrEqual(10);
  expect(atTheDoor.get('master')?.sort()).toEqual(['Client', 'Master', 'Replica']);
  expect(atTheDoor.get('worker')?.sort()).toEqual(['Master', 'Worker']);
  expect(atTheDoor.get('lifecycle manager')?.sort()).toEqual(['Admin', 'LifecycleManager', 'Master', 'Replica', 'Worker']);
  expect(refusals).toBe(forbidden.get('master')! + forbidden.get('worker')!);
  await good.works();
  await probeApp.works();
});
