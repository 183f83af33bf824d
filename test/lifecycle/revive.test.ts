import { describe, expect, it } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { PushStatus, Revive, addressKey, type PartitionLocation } from '../../src/protocol/index.js';
import { connectClient, useLifecycleEnv } from './fakes.js';

const APP = 'app-revive';

describe('LifecycleManager revive', () => {
  const env = useLifecycleEnv(APP);

  it('batches concurrent revives into few slot requests and shares one new epoch per (partition, epoch)', async () => {
    const lm = await env.start();
    await lm.registerShuffle(1, 50, 20);
    const before = env.cluster.master.requestSlots.length;
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    // 20 partitions x 5 writers each, every one in its own RPC.
    const calls: Promise<{ partitionId: number; status: number; location?: PartitionLocation }>[] = [];
    for (let w = 0; w < 5; w++) {
      for (let p = 0; p < 20; p++) {
        const req = { partitionId: p, epoch: 0, mapId: w, attemptId: 0, cause: PushStatus.HARD_SPLIT };
        calls.push(conn.call(Revive, { shuffleId: 1, requests: [req] }).then((r) => ({ partitionId: p, ...r.results[0]! })));
      }
    }
    const results = await Promise.all(calls);
    const slotRequests = env.cluster.master.requestSlots.slice(before);
    expect(slotRequests.length).toBeGreaterThanOrEqual(1);
    expect(slotRequests.length).toBeLessThanOrEqual(3);
    expect(slotRequests.reduce((n, r) => n + r.count, 0)).toBe(20);
    const byPartition = new Map<number, PartitionLocation>();
    for (const r of results) {
      expect(r.status).toBe(PushStatus.SUCCESS);
      expect(r.location!.partitionId).toBe(r.partitionId);
      expect(r.location!.epoch).toBe(1);
      const seen = byPartition.get(r.partitionId);
      if (seen === undefined) byPartition.set(r.partitionId, r.location!);
      else expect(r.location).toEqual(seen);
    }
    expect(byPartition.size).toBe(20);
    // The new epochs were reserved like the first ones.
    const reservedEpoch1 = env.cluster.workers.flatMap((w) => w.reserves.flatMap((r) => r.files.filter((f) => f.epoch === 1)));
    expect(reservedEpoch1).toHaveLength(40);
    // Registration now reports the newest epochs.
    const current = await lm.registerShuffle(1, 50, 20);
    expect(current.map((l) => l.epoch)).toEqual(new Array(20).fill(1));
    expect(current).toEqual([...byPartition.values()].sort((a, b) => a.partitionId - b.partitionId));
  });

  it('answers a stale epoch with the current location without allocating', async () => {
    const lm = await env.start();
    await lm.registerShuffle(2, 4, 2);
    const [first] = await lm.revive(2, [{ partitionId: 1, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.SOFT_SPLIT }]);
    expect(first).toMatchObject({ status: PushStatus.SUCCESS, location: { partitionId: 1, epoch: 1 } });
    const n = env.cluster.master.requestSlots.length;
    const [stale] = await lm.revive(2, [{ partitionId: 1, epoch: 0, mapId: 1, attemptId: 0, cause: PushStatus.HARD_SPLIT }]);
    expect(stale).toEqual(first);
    expect(env.cluster.master.requestSlots.length).toBe(n);
    // Reviving the current epoch moves on to the next one.
    const [next] = await lm.revive(2, [{ partitionId: 1, epoch: 1, mapId: 1, attemptId: 0, cause: PushStatus.HARD_SPLIT }]);
    expect(next).toMatchObject({ status: PushStatus.SUCCESS, location: { partitionId: 1, epoch: 2 } });
  });

  it('answers in request order within one call, mixing outcomes', async () => {
    const lm = await env.start();
    await lm.registerShuffle(3, 4, 3);
    await lm.mapperEnd({ shuffleId: 3, mapId: 2, attemptId: 0, numMappers: 4, partitions: [] });
    const results = await lm.revive(3, [
      { partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT },
      { partitionId: 1, epoch: 0, mapId: 2, attemptId: 1, cause: PushStatus.HARD_SPLIT },
      { partitionId: 2, epoch: 5, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT },
      { partitionId: 9, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT },
      { partitionId: 0, epoch: 0, mapId: 1, attemptId: 0, cause: PushStatus.SOFT_SPLIT },
    ]);
    expect(results.map((r) => r.status)).toEqual([
      PushStatus.SUCCESS,
      PushStatus.MAP_ENDED,
      PushStatus.FAIL_UNKNOWN_LOCATION,
      PushStatus.FAIL_UNKNOWN_LOCATION,
      PushStatus.SUCCESS,
    ]);
    expect(results[0]!.location).toEqual(results[4]!.location);
    expect(results[1]!.location).toBeUndefined();
    expect(results[0]!.location!.epoch).toBe(1);
  });

  it('answers MAP_ENDED once the map has a winning attempt', async () => {
    const lm = await env.start();
    await lm.registerShuffle(4, 2, 2);
    expect((await lm.mapperEnd({ shuffleId: 4, mapId: 0, attemptId: 1, numMappers: 2, partitions: [] })).winner).toBe(true);
    const n = env.cluster.master.requestSlots.length;
    for (const attemptId of [0, 1, 2]) {
      const [r] = await lm.revive(4, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId, cause: PushStatus.FAIL_REPLICA }]);
      expect(r).toEqual({ status: PushStatus.MAP_ENDED });
    }
    expect(env.cluster.master.requestSlots.length).toBe(n);
  });

  it('keeps a failed push away from the old workers', async () => {
    const lm = await env.start({ replicate: false });
    const [old] = await lm.registerShuffle(5, 1, 1);
    const [r] = await lm.revive(5, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.FAIL_WRITE }]);
    expect(r!.status).toBe(PushStatus.SUCCESS);
    expect(env.cluster.master.requestSlots.at(-1)!.excluded.map(addressKey)).toEqual([addressKey(old!.primary)]);
    expect(addressKey(r!.location!.primary)).not.toBe(addressKey(old!.primary));
  });

  it('excludes both copies after a failure, and falls back when that leaves too few workers', async () => {
    const lm = await env.start();
    const [old] = await lm.registerShuffle(6, 1, 1);
    const n = env.cluster.master.requestSlots.length;
    const [r] = await lm.revive(6, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.FAIL_REPLICA }]);
    expect(r!.status).toBe(PushStatus.SUCCESS);
    const asked = env.cluster.master.requestSlots.slice(n);
    // Three workers, a replicated slot needs two: avoiding both old workers is impossible, so the preference is dropped.
    expect(asked.map((q) => q.excluded.map(addressKey).sort())).toEqual([[addressKey(old!.primary), addressKey(old!.replica!)].sort(), []]);
  });

  it('does not exclude the old workers after a split', async () => {
    const lm = await env.start();
    await lm.registerShuffle(7, 1, 1);
    await lm.revive(7, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.SOFT_SPLIT }]);
    expect(env.cluster.master.requestSlots.at(-1)!.excluded).toEqual([]);
  });

  it('reports a failure status when no new epoch can be reserved', async () => {
    const lm = await env.start({ reserveRetries: 1 });
    await lm.registerShuffle(8, 1, 2);
    for (const w of env.cluster.workers) w.failReserve = true;
    const results = await lm.revive(8, [
      { partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT },
      { partitionId: 1, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT },
    ]);
    expect(results).toEqual([{ status: PushStatus.FAIL_UNKNOWN_LOCATION }, { status: PushStatus.FAIL_UNKNOWN_LOCATION }]);
    // Nothing changed: the partitions stay on epoch 0, and a later revive may succeed.
    expect((await lm.registerShuffle(8, 1, 2)).map((l) => l.epoch)).toEqual([0, 0]);
    for (const w of env.cluster.workers) w.failReserve = false;
    const [ok] = await lm.revive(8, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT }]);
    expect(ok).toMatchObject({ status: PushStatus.SUCCESS, location: { epoch: 1 } });
  });

  it('answers FAIL_UNKNOWN_SHUFFLE for a shuffle it does not know', async () => {
    const lm = await env.start();
    expect(await lm.revive(99, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT }])).toEqual([
      { status: PushStatus.FAIL_UNKNOWN_SHUFFLE },
    ]);
  });
});
