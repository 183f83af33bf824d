import { describe, expect, it } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import {
  ErrorCodes,
  FetchFailureStatus,
  GetReducerFileGroup,
  MapperEnd,
  Mode,
  RegisterShuffle,
  ReportShuffleFetchFailure,
  Revive,
  UnregisterShuffle,
  addressKey,
} from '../../src/protocol/index.js';
import { connectClient, startCluster, useLifecycleEnv } from './fakes.js';

const APP = 'app-reg';

describe('LifecycleManager registration', () => {
  const env = useLifecycleEnv(APP);

  it('serves 100 concurrent registrations with one slot request', async () => {
    const lm = await env.start();
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    const calls = Array.from({ length: 100 }, (_, i) =>
      i % 2 === 0
        ? conn.call(RegisterShuffle, { shuffleId: 1, numMappers: 4, numPartitions: 6 }).then((r) => r.locations)
        : lm.registerShuffle(1, 4, 6),
    );
    const answers = await Promise.all(calls);
    expect(env.cluster.master.requestSlots).toHaveLength(1);
    expect(env.cluster.master.requestSlots[0]).toMatchObject({ appId: APP, shuffleId: 1, count: 6, replicate: true, excluded: [] });
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]!.map((l) => [l.partitionId, l.epoch])).toEqual([0, 1, 2, 3, 4, 5].map((p) => [p, 0]));
    // A later call returns the same locations without asking the master again.
    expect(await lm.registerShuffle(1, 4, 6)).toEqual(answers[0]);
    expect(env.cluster.master.requestSlots).toHaveLength(1);
  });

  it('reserves every file on its worker, primaries pointing at replicas and back, in one call per worker', async () => {
    const lm = await env.start({ splitThreshold: 1234 });
    const locations = await lm.registerShuffle(2, 3, 5);
    for (const loc of locations) {
      expect(loc.replica).toBeDefined();
      expect(addressKey(loc.replica!)).not.toBe(addressKey(loc.primary));
    }
    for (const w of env.cluster.workers) {
      expect(w.reserves.length).toBeLessThanOrEqual(1);
      const expected = locations.flatMap((l) => [
        ...(addressKey(l.primary) === w.key ? [{ partitionId: l.partitionId, epoch: 0, mode: Mode.Primary, peer: l.replica }] : []),
        ...(addressKey(l.replica!) === w.key ? [{ partitionId: l.partitionId, epoch: 0, mode: Mode.Replica, peer: l.primary }] : []),
      ]);
      const got = w.reserves.flatMap((r) => r.files);
      expect(sortFiles(got)).toEqual(sortFiles(expected));
      for (const r of w.reserves) expect(r).toMatchObject({ appId: APP, shuffleId: 2, splitThreshold: 1234 });
    }
  });

  it('reserves on all workers in parallel', async () => {
    const lm = await env.start();
    for (const w of env.cluster.workers) w.reserveDelayMs = 100;
    await lm.registerShuffle(3, 1, 6);
    expect(env.cluster.workers.every((w) => w.reserves.length === 1)).toBe(true);
    expect(env.cluster.reserveProbe.max).toBe(3);
  });

  it('without replication, locations have no replica', async () => {
    const lm = await env.start({ replicate: false });
    const locations = await lm.registerShuffle(4, 1, 3);
    expect(env.cluster.master.requestSlots[0]!.replicate).toBe(false);
    expect(locations.every((l) => l.replica === undefined)).toBe(true);
    const files = env.cluster.workers.flatMap((w) => w.reserves.flatMap((r) => r.files));
    expect(files.every((f) => f.mode === Mode.Primary && f.peer === undefined)).toBe(true);
  });

  it('rolls back a partial reservation and retries without the refusing worker', async () => {
    const lm = await env.start();
    const bad = env.cluster.workers[0]!;
    bad.failReserve = true;
    const locations = await lm.registerShuffle(5, 2, 6);
    expect(env.cluster.master.requestSlots).toHaveLength(2);
    expect(env.cluster.master.requestSlots[1]!.excluded.map(addressKey)).toEqual([bad.key]);
    for (const loc of locations) {
      expect(addressKey(loc.primary)).not.toBe(bad.key);
      expect(addressKey(loc.replica!)).not.toBe(bad.key);
    }
    // The workers that accepted the first attempt were told to destroy exactly what they reserved then.
    for (const w of env.cluster.workers.slice(1)) {
      expect(w.reserves).toHaveLength(2);
      expect(w.destroys).toHaveLength(1);
      expect(sortFiles(w.destroys[0]!.files)).toEqual(sortFiles(w.reserves[0]!.files.map(({ partitionId, epoch, mode }) => ({ partitionId, epoch, mode }))));
      // What remains reserved is exactly the final allocation.
      const finalHere = locations.flatMap((l) => [
        ...(addressKey(l.primary) === w.key ? [`${l.partitionId}/0/${Mode.Primary}`] : []),
        ...(addressKey(l.replica!) === w.key ? [`${l.partitionId}/0/${Mode.Replica}`] : []),
      ]);
      expect([...w.reserved.keys()].sort()).toEqual(finalHere.sort());
    }
    expect(bad.destroys).toHaveLength(0);
  });

  it('fails with RESERVE_FAILED once retries run out, and a later call tries again', async () => {
    const lm = await env.start({ reserveRetries: 2, replicate: false });
    for (const w of env.cluster.workers) w.failReserve = true;
    await expect(lm.registerShuffle(6, 1, 2)).rejects.toMatchObject({ code: ErrorCodes.RESERVE_FAILED });
    // Attempt 1 excluded nothing; every later attempt excludes the workers that refused so far.
    expect(env.cluster.master.requestSlots.length).toBeGreaterThanOrEqual(2);
    expect(env.cluster.master.requestSlots.length).toBeLessThanOrEqual(3);
    expect(lm.shuffleIds()).not.toContain(6);
    for (const w of env.cluster.workers) w.failReserve = false;
    const locations = await lm.registerShuffle(6, 1, 2);
    expect(locations).toHaveLength(2);
  });

  it('gives up after reserveRetries + 1 attempts when every worker keeps refusing', async () => {
    // Many workers, so exclusion never runs out of them: the retry count is what stops.
    const big = env.closer.add(await startCluster(10));
    for (const w of big.workers) w.failReserve = true;
    const lm = env.closer.add(
      await LifecycleManager.start({ appId: APP, master: big.master.address, heartbeatIntervalMs: 60_000, reserveRetries: 3, replicate: false, insecure: true }),
    );
    const err = await lm.registerShuffle(7, 1, 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.RESERVE_FAILED });
    expect(big.master.requestSlots).toHaveLength(4);
    expect(big.master.requestSlots.map((r) => r.excluded.length)).toEqual([0, 1, 2, 3]);
  });

  it('rejects a registration that disagrees with the registered shape', async () => {
    const lm = await env.start();
    await lm.registerShuffle(8, 4, 6);
    await expect(lm.registerShuffle(8, 5, 6)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(lm.registerShuffle(8, 4, 7)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(lm.registerShuffle(9, 4, 0)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
  });

  it('refuses client methods from a connection of another application', async () => {
    const lm = await env.start();
    await lm.registerShuffle(10, 1, 2);
    const other = env.closer.addConnection(await connectClient(lm.address, 'someone-else'));
    const wrong = { code: ErrorCodes.WRONG_APP };
    await expect(other.call(RegisterShuffle, { shuffleId: 10, numMappers: 1, numPartitions: 2 })).rejects.toMatchObject(wrong);
    await expect(other.call(Revive, { shuffleId: 10, requests: [] })).rejects.toMatchObject(wrong);
    await expect(other.call(MapperEnd, { shuffleId: 10, mapId: 0, attemptId: 0, numMappers: 1, partitions: [], epochs: [] })).rejects.toMatchObject(wrong);
    await expect(other.call(GetReducerFileGroup, { shuffleId: 10, startPartition: 0, endPartition: 1 })).rejects.toMatchObject(wrong);
    await expect(other.call(UnregisterShuffle, { appId: APP, shuffleId: 10 })).rejects.toMatchObject(wrong);
    const report = await other.call(ReportShuffleFetchFailure, { appId: APP, shuffleId: 10, stageAttemptId: 0, partitionId: 0, error: 'x' });
    expect(report.status).toBe(FetchFailureStatus.INVALID_REQUEST);
    expect(report.message).toContain('someone-else');
    // The right application on its own connection is served; nothing was changed by the refused calls.
    const own = env.closer.addConnection(await connectClient(lm.address, APP));
    await expect(own.call(UnregisterShuffle, { appId: 'someone-else', shuffleId: 10 })).rejects.toMatchObject(wrong);
    expect(lm.shuffleIds()).toEqual([10]);
    expect((await own.call(RegisterShuffle, { shuffleId: 10, numMappers: 1, numPartitions: 2 })).locations).toHaveLength(2);
  });

  it('requires the auth token when one is set', async () => {
    const lm = await env.start({ authToken: 'secret' });
    await expect(connectClient(lm.address, APP)).rejects.toMatchObject({ code: ErrorCodes.AUTH });
  });

  it('sends application heartbeats with its shuffle ids', async () => {
    const lm = await env.start({ heartbeatIntervalMs: 20 });
    await lm.registerShuffle(11, 1, 1);
    await lm.registerShuffle(12, 1, 1);
    await waitFor(() => env.cluster.master.heartbeats.some((h) => h.shuffleIds.length === 2));
    const last = env.cluster.master.heartbeats.at(-1)!;
    expect(last.appId).toBe(APP);
    expect([...last.shuffleIds].sort()).toEqual([11, 12]);
    await lm.close();
    const seen = env.cluster.master.heartbeats.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(env.cluster.master.heartbeats.length).toBe(seen);
  });
});

function sortFiles<T extends { partitionId: number; mode: number }>(files: T[]): T[] {
  return [...files].sort((a, b) => a.partitionId - b.partitionId || a.mode - b.mode);
}

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
