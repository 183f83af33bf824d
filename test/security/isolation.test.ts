import { afterEach, expect, test } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import { ALL_MAPS, ErrorCodes, MessageType, RequestSlots, Role, UnregisterShuffle, type Address } from '../../src/protocol/index.js';
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

/** App A pushes one partition and ends its stage; returns where its file lives. */
async function appWithData(c: StandaloneHandle, appId: string): Promise<{ worker: Address }> {
  const token = appKey(appId);
  const lm = await LifecycleManager.start({ appId, master: c.masterAddress, authToken: token, tls: testTls(), replicate: false });
  cleanups.push(() => lm.close());
  const client = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: token, tls: testAppTls() });
  cleanups.push(() => client.close());
  await client.pushData(0, 0, 0, 0, Buffer.from('secret records of ' + appId), undefined, undefined, 1, 1);
  await client.mapperEnd(0, 0, 0, 1);
  const group = await lm.getReducerFileGroup(0, 0, 1);
  const read: Buffer[] = [];
  for await (const b of client.readPartition(0, 0)) read.push(b);
  expect(Buffer.concat(read).toString()).toBe('secret records of ' + appId);
  return { worker: group.partitions[0]!.files[0]!.address };
}

test('without the right token nobody gets in', async () => {
  const c = await cluster();
  await expect(connect(c.masterAddress, { role: Role.LifecycleManager, appId: 'a', tls: testAppTls() })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
  // A token of one application does not open a connection for another.
  await expect(connect(c.masterAddress, { role: Role.LifecycleManager, appId: 'b', key: appKey('a'), tls: testAppTls() })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
  // An application token does not make its holder a cluster role.
  await expect(connect(c.workers[0]!.address, { role: Role.Replica, appId: 'a', key: appKey('a'), tls: testAppTls() })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
  await expect(connect(c.masterAddress, { role: Role.Worker, key: appKey('a'), tls: testAppTls() })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
});

test("an application can neither read, write nor manage another application's data", async () => {
  const c = await cluster();
  const { worker } = await appWithData(c, 'victim');
  const token = appKey('thief');
  const thief = await connect(worker, { role: Role.Client, appId: 'thief', key: token, tls: testAppTls() });
  cleanups.push(() => thief.close());
  const open = await thief.request({ type: MessageType.OpenStream, shuffleKey: 'victim-0', fileName: '0-0-primary', startMapIndex: 0, endMapIndex: ALL_MAPS }).catch((e: unknown) => e);
  expect(open).toMatchObject({ code: ErrorCodes.WRONG_APP });
  const push = await thief.request({ type: MessageType.PushData, shuffleKey: 'victim-0', partitionId: 0, epoch: 0, mode: 0, body: Buffer.alloc(16) });
  expect(push.type === MessageType.PushResponse && push.statuses[0]).toBe(23); // FAIL_WRONG_APP
  const del = await thief.call(UnregisterShuffle, { appId: 'victim', shuffleId: 0 }).catch((e: unknown) => e);
  expect(del).toMatchObject({ code: ErrorCodes.WRONG_APP });
  const lmOfThief = await connect(c.masterAddress, { role: Role.LifecycleManager, appId: 'thief', key: token, tls: testAppTls() });
  cleanups.push(() => lmOfThief.close());
  await expect(lmOfThief.call(UnregisterShuffle, { appId: 'victim', shuffleId: 0 })).rejects.toMatchObject({ code: ErrorCodes.WRONG_APP });
  await expect(lmOfThief.call(RequestSlots, { appId: 'victim', shuffleId: 9, count: 1, replicate: false, excluded: [] })).rejects.toMatchObject({ code: ErrorCodes.WRONG_APP });
  // The victim's data is untouched.
  expect(c.workers.some((w) => w.status().shuffles.some((s) => s.key === 'victim-0' && s.committed === 1))).toBe(true);
});
