/**
 * Issue 8 items 11 and 12: roles are allow-listed. A handshake with a role id
 * that is not one of the defined roles is refused; an application's Client
 * connection may not call the cluster RPCs that reserve, commit or destroy
 * files, even for its own application.
 */
import { afterEach, expect, test } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import { CommitFiles, DestroySlots, ErrorCodes, Mode, ReserveSlots, Role, type Address } from '../../src/protocol/index.js';
import { startStandalone, type StandaloneHandle } from '../../src/server/standalone.js';
import { connect } from '../../src/transport/index.js';
import { appKey, clusterSecurity, testAppTls, testTls } from './fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function cluster(): Promise<StandaloneHandle> {
  const c = await startStandalone({ workers: 2, ...clusterSecurity() });
  cleanups.push(() => c.close());
  return c;
}

/** `appId` pushes one partition and commits it; returns the worker holding it and a reader. */
async function appWithData(c: StandaloneHandle, appId: string): Promise<{ worker: Address; read: () => Promise<string> }> {
  const token = appKey(appId);
  const lm = await LifecycleManager.start({ appId, master: c.masterAddress, authToken: token, tls: testTls(), replicate: false });
  cleanups.push(() => lm.close());
  const client = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: token, tls: testAppTls() });
  cleanups.push(() => client.close());
  await client.pushData(0, 0, 0, 0, Buffer.from(`records of ${appId}`), undefined, undefined, 1, 1);
  await client.mapperEnd(0, 0, 0, 1);
  const group = await lm.getReducerFileGroup(0, 0, 1);
  const read = async () => {
    const parts: Buffer[] = [];
    for await (const b of client.readPartition(0, 0)) parts.push(b);
    return Buffer.concat(parts).toString();
  };
  expect(await read()).toBe(`records of ${appId}`);
  return { worker: group.partitions[0]!.files[0]!.address, read };
}

test('a handshake declaring an undefined role is refused by master and worker (issue 8 item 11)', async () => {
  const c = await cluster();
  const token = appKey('thief');
  for (const role of [0, 7, 255]) {
    for (const server of [c.masterAddress, c.workers[0]!.address]) {
      const r = await connect(server, { role: role as Role, appId: 'thief', key: token, tls: testAppTls() }).then(
        (conn) => {
          conn.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(r, `role ${role} at ${server.port}`).toMatchObject({ code: ErrorCodes.HANDSHAKE });
    }
  }
});

test("an application's Client connection may not reserve, commit or destroy files, even its own (issue 8 item 12)", async () => {
  const c = await cluster();
  const { worker, read } = await appWithData(c, 'victim');
  const client = await connect(worker, { role: Role.Client, appId: 'victim', key: appKey('victim'), tls: testAppTls() });
  cleanups.push(() => client.close());
  const file = { partitionId: 0, epoch: 0, mode: Mode.Primary };
  await expect(client.call(ReserveSlots, { appId: 'victim', shuffleId: 5, files: [{ ...file, peer: undefined }], splitThreshold: 0 })).rejects.toMatchObject({ code: ErrorCodes.FORBIDDEN });
  await expect(client.call(CommitFiles, { appId: 'victim', shuffleId: 0, files: [file], mapAttempts: [] })).rejects.toMatchObject({ code: ErrorCodes.FORBIDDEN });
  await expect(client.call(DestroySlots, { appId: 'victim', shuffleId: 0, files: [file] })).rejects.toMatchObject({ code: ErrorCodes.FORBIDDEN });
  // The committed file is still there and still reads back whole.
  expect(await read()).toBe('records of victim');
  expect(c.workers.some((w) => w.status().shuffles.some((s) => s.key === 'victim-5'))).toBe(false);
});
