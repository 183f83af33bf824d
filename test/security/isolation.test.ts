/**
 * Application A against application B's data, with A's own valid key: it
 * can neither read, write, reserve, commit, destroy nor unregister B's
 * shuffle, on workers, the master or B's LifecycleManager. B's data stays
 * whole and B keeps working.
 */
import { expect, test } from 'vitest';
import {
  ALL_MAPS,
  ApplicationHeartbeat,
  CommitFiles,
  DestroySlots,
  ErrorCodes,
  MessageType,
  Mode,
  PushStatus,
  RegisterShuffle,
  RequestSlots,
  ReserveSlots,
  Role,
  UnregisterShuffle,
} from '../../src/protocol/index.js';
import { connect } from '../../src/transport/index.js';
import { appKey, testAppTls } from './fixture.js';
import { App, dial, secureCluster } from './harness.js';

const WRONG_APP = { code: ErrorCodes.WRONG_APP };

test("application A can neither read, write, reserve, commit, destroy nor unregister application B's shuffle", async () => {
  const c = await secureCluster();
  const victim = await App.start(c, 'victim');
  const data = await victim.shuffle('secret records of victim', 0);
  const thief = { appId: 'thief', key: appKey('thief'), tls: testAppTls() };
  const task = await dial(c, data.worker, Role.Client, thief);
  const lm = await dial(c, data.worker, Role.LifecycleManager, thief);
  const atMaster = await dial(c, c.masterAddress, Role.LifecycleManager, thief);

  // Reading: no stream on B's file; a stream id of B's is not the thief's.
  await expect(task.request({ type: MessageType.OpenStream, shuffleKey: 'victim-0', fileName: '0-0-primary', startMapIndex: 0, endMapIndex: ALL_MAPS })).rejects.toMatchObject(WRONG_APP);
  await expect(task.fetchChunk(1, 0)).rejects.toMatchObject({ code: ErrorCodes.UNKNOWN_STREAM });
  // Writing into B's shuffle, as a primary or a replica.
  for (const mode of [Mode.Primary, Mode.Replica]) {
    const push = await task.request({ type: MessageType.PushData, shuffleKey: 'victim-0', partitionId: 0, epoch: 0, mode, body: Buffer.alloc(16) });
    expect(push.type === MessageType.PushResponse && push.statuses[0], `mode ${mode}`).toBe(mode === Mode.Primary ? PushStatus.FAIL_WRONG_APP : PushStatus.FAIL_FORBIDDEN);
  }
  // Managing B's files, with the thief's own LifecycleManager role.
  const file = { partitionId: 0, epoch: 0, mode: Mode.Primary };
  await expect(lm.call(ReserveSlots, { appId: 'victim', shuffleId: 0, files: [{ ...file, epoch: 7, peer: undefined }], splitThreshold: 0 })).rejects.toMatchObject(WRONG_APP);
  await expect(lm.call(CommitFiles, { appId: 'victim', shuffleId: 0, files: [file], mapAttempts: [] })).rejects.toMatchObject(WRONG_APP);
  await expect(lm.call(DestroySlots, { appId: 'victim', shuffleId: 0, files: [file] })).rejects.toMatchObject(WRONG_APP);
  await expect(lm.call(UnregisterShuffle, { appId: 'victim', shuffleId: 0 })).rejects.toMatchObject(WRONG_APP);
  // At the master: B's slots, heartbeats and shuffles.
  await expect(atMaster.call(RequestSlots, { appId: 'victim', shuffleId: 9, count: 1, replicate: false, excluded: [] })).rejects.toMatchObject(WRONG_APP);
  await expect(atMaster.call(ApplicationHeartbeat, { appId: 'victim', shuffleIds: [] })).rejects.toMatchObject(WRONG_APP);
  await expect(atMaster.call(UnregisterShuffle, { appId: 'victim', shuffleId: 0 })).rejects.toMatchObject(WRONG_APP);
  // B's LifecycleManager takes no connection of another application.
  await expect(connect(victim.lm.address, { role: Role.Client, ...thief })).rejects.toMatchObject(WRONG_APP);

  // The connections survive their refusals, and B's data is whole.
  for (const conn of [task, lm, atMaster]) expect(conn.isClosed).toBe(false);
  expect(await data.read()).toBe('secret records of victim');
  expect(c.workers.some((w) => w.status().shuffles.some((s) => s.key === 'victim-0' && s.committed >= 1))).toBe(true);
  await victim.works();
});

test('a LifecycleManager serves its own application only, even to a holder of another valid key', async () => {
  const c = await secureCluster();
  const a = await App.start(c, 'a');
  // B's key is valid in the cluster, but not at A's LifecycleManager.
  await expect(connect(a.lm.address, { role: Role.Client, appId: 'b', key: appKey('b'), tls: testAppTls() })).rejects.toMatchObject(WRONG_APP);
  // A's appId with B's key: the proof fails.
  await expect(connect(a.lm.address, { role: Role.Client, appId: 'a', key: appKey('b'), tls: testAppTls() })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
  const own = await connect(a.lm.address, { role: Role.Client, appId: 'a', key: appKey('a'), tls: testAppTls() });
  expect((await own.call(RegisterShuffle, { shuffleId: 5, numMappers: 1, numPartitions: 1 })).locations).toHaveLength(1);
  own.close();
  await a.works();
});
