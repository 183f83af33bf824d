/**
 * Quota breaches on real servers: each refused with BRAID_ERR_QUOTA_EXCEEDED
 * (or the push status FAIL_QUOTA) naming the quota's option and saying
 * whether a retry elsewhere may succeed; nothing already committed is lost,
 * and other applications keep working.
 */
import { expect, test } from 'vitest';
import { CommitFiles, ErrorCodes, MessageType, Mode, PushStatus, ReserveSlots, Role, writeBatchHeader } from '../../src/protocol/index.js';
import type { Connection } from '../../src/transport/index.js';
import { appKey, testAppTls } from './fixture.js';
import { App, dial, secureCluster } from './harness.js';

const files = (partitions: number[], epoch = 0) => partitions.map((partitionId) => ({ partitionId, epoch, mode: Mode.Primary, peer: undefined }));

function batch(bytes: number, batchId: number): Buffer {
  const b = Buffer.alloc(16 + bytes, 0x61);
  writeBatchHeader(b, 0, { mapId: 0, attemptId: 0, batchId, length: bytes });
  return b;
}

async function lmOn(c: Awaited<ReturnType<typeof secureCluster>>, appId: string, worker = 0): Promise<Connection> {
  return dial(c, c.workers[worker]!.address, Role.LifecycleManager, { appId, key: appKey(appId), tls: testAppTls() });
}

test('the master refuses slots past a shuffle-count or partition quota, not retriable', async () => {
  const c = await secureCluster({ master: { quotas: { appShuffles: 2, shufflePartitions: 8 } } });
  const app = await App.start(c, 'greedy');
  const tooWide = await app.lm.registerShuffle(1, 1, 9).catch((e: unknown) => e);
  expect(tooWide).toMatchObject({ code: ErrorCodes.QUOTA_EXCEEDED, retriable: false });
  expect(String((tooWide as Error).message)).toMatch(/quota quotaShufflePartitions \(8\) exceeded/);
  const first = await app.shuffle('one', 1);
  await app.shuffle('two', 2);
  const third = await app.lm.registerShuffle(3, 1, 1).catch((e: unknown) => e);
  expect(third).toMatchObject({ code: ErrorCodes.QUOTA_EXCEEDED, retriable: false });
  expect(String((third as Error).message)).toMatch(/quotaAppShuffles \(2\).*2 shuffles registered/);
  // Nothing committed was touched; unregistering one makes room again.
  expect(await first.read()).toBe('one');
  await app.lm.unregisterShuffle(2);
  await app.shuffle('three', 3);
  expect(c.master.status().quotas.refusals).toEqual({ appShuffles: 1, shufflePartitions: 1 });
  // Another application is not held to the greedy one's count.
  await (await App.start(c, 'other')).works();
});

test('a worker refuses reservations past its per-application quotas, before creating anything', async () => {
  const c = await secureCluster({ worker: { quotas: { appFiles: 4, appShuffles: 2, shufflePartitions: 100, workerApps: 3 } } });
  const w = c.workers[0]!;
  const lm = await lmOn(c, 'greedy');
  const reserve = (shuffleId: number, parts: number[]) => lm.call(ReserveSlots, { appId: 'greedy', shuffleId, files: files(parts), splitThreshold: 0 });
  const refusal = async (p: Promise<unknown>, option: string, retriable: boolean) => {
    const e = await p.then(() => undefined, (err: unknown) => err);
    expect(e, option).toMatchObject({ code: ErrorCodes.QUOTA_EXCEEDED, retriable });
    expect(String((e as Error).message)).toContain(`quota ${option} (`);
  };
  await refusal(reserve(0, [100]), 'quotaShufflePartitions', false);
  await refusal(reserve(0, [0, 1, 2, 3, 4]), 'quotaAppFiles', true);
  await reserve(0, [0, 1, 2]);
  await reserve(0, [0, 1, 2]); // a retried reservation keeps what it has and counts nothing twice
  await refusal(reserve(1, [0, 1]), 'quotaAppFiles', true);
  await reserve(1, [0]);
  await refusal(reserve(2, [0]), 'quotaAppShuffles', true);
  // Refused reservations left nothing: the worker holds 2 shuffles, 4 files of this application.
  expect(w.status().quotas.usage).toEqual([{ appId: 'greedy', bytes: 0, files: 4, shuffles: 2 }]);
  expect(w.status().shuffles.map((s) => s.key).sort()).toEqual(['greedy-0', 'greedy-1']);
  // Applications per worker: two more fit (3 in all), a fourth does not.
  for (const app of ['b', 'c']) await (await lmOn(c, app)).call(ReserveSlots, { appId: app, shuffleId: 0, files: files([0]), splitThreshold: 0 });
  await refusal((await lmOn(c, 'd')).call(ReserveSlots, { appId: 'd', shuffleId: 0, files: files([0]), splitThreshold: 0 }), 'quotaWorkerApps', true);
  expect(w.status().quotas.refusals).toMatchObject({ shufflePartitions: 1, appFiles: 2, appShuffles: 1, workerApps: 1 });
});

test('pushes past the byte quota answer FAIL_QUOTA; what was taken before stays and commits', async () => {
  const c = await secureCluster({ worker: { quotas: { appBytes: 64 * 1024 } } });
  const w = c.workers[0]!;
  const lm = await lmOn(c, 'big');
  const task = await dial(c, w.address, Role.Client, { appId: 'big', key: appKey('big'), tls: testAppTls() });
  await lm.call(ReserveSlots, { appId: 'big', shuffleId: 0, files: files([0]), splitThreshold: 0 });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await task.request({ type: MessageType.PushData, shuffleKey: 'big-0', partitionId: 0, epoch: 0, mode: Mode.Primary, body: batch(20_000, i) });
    if (res.type === MessageType.PushResponse) statuses.push(res.statuses[0]!);
  }
  // 3 × 20 KB fit under 64 KiB, the rest is refused (and not stored).
  expect(statuses).toEqual([0, 0, 0, PushStatus.FAIL_QUOTA, PushStatus.FAIL_QUOTA, PushStatus.FAIL_QUOTA]);
  expect(w.status().quotas.usage).toEqual([{ appId: 'big', bytes: 3 * 20_016, files: 1, shuffles: 1 }]);
  const commit = await lm.call(CommitFiles, { appId: 'big', shuffleId: 0, files: [{ partitionId: 0, epoch: 0, mode: Mode.Primary }], mapAttempts: [0] });
  expect(commit.committed[0]?.bytes).toBe(3 * 20_016);
  expect(w.status().quotas.refusals.appBytes).toBe(3);
  // Another application on the same worker is not affected.
  await (await App.start(c, 'small')).works();
});
