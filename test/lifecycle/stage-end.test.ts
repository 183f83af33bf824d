import { describe, expect, it } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import {
  ErrorCodes,
  GetReducerFileGroup,
  MapperEnd,
  Mode,
  PushStatus,
  RegisterShuffle,
  UnregisterShuffle,
  addressKey,
  type PartitionLocation,
} from '../../src/protocol/index.js';
import { connectClient, fakeCommittedSize, fileKey, useLifecycleEnv } from './fakes.js';

const APP = 'app-stage';

describe('LifecycleManager map ends, commit and reducer file groups', () => {
  const env = useLifecycleEnv(APP);

  const sum = (partitionId: number, batches: number, bytes: number, crc: number) => ({ partitionId, batches, bytes, crc });

  it('lets the first attempt of a map win; later attempts lose; the winner may repeat its end', async () => {
    const lm = await env.start();
    await lm.registerShuffle(1, 2, 2);
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    const end = (mapId: number, attemptId: number, crc: number) =>
      conn.call(MapperEnd, { shuffleId: 1, mapId, attemptId, numMappers: 2, partitions: [sum(0, 1, 10, crc)], epochs: [] });
    expect(await end(0, 1, 111)).toEqual({ winner: true, allMappersEnded: false });
    expect(await end(0, 0, 222)).toEqual({ winner: false, allMappersEnded: false });
    expect(await end(0, 1, 111)).toEqual({ winner: true, allMappersEnded: false });
    expect(await end(1, 0, 333)).toEqual({ winner: true, allMappersEnded: true });
    expect(await end(1, 4, 444)).toEqual({ winner: false, allMappersEnded: true });
    const group = await lm.getReducerFileGroup(1, 0, 1);
    expect(group.mapAttempts).toEqual([1, 0]);
    // Only the winners' sums count.
    expect(group.partitions[0]!.expected.map((e) => e.crc)).toEqual([111, 333]);
  });

  it('rejects map ends that do not fit the shuffle', async () => {
    const lm = await env.start();
    await lm.registerShuffle(2, 2, 2);
    const bad = { code: ErrorCodes.INVALID_REQUEST };
    await expect(lm.mapperEnd({ shuffleId: 2, mapId: 0, attemptId: 0, numMappers: 3, partitions: [] })).rejects.toMatchObject(bad);
    await expect(lm.mapperEnd({ shuffleId: 2, mapId: 2, attemptId: 0, numMappers: 2, partitions: [] })).rejects.toMatchObject(bad);
    await expect(lm.mapperEnd({ shuffleId: 2, mapId: 0, attemptId: 0, numMappers: 2, partitions: [sum(2, 1, 1, 1)] })).rejects.toMatchObject(bad);
    // Data pushed to a shuffle nobody registered is not ours.
    await expect(lm.mapperEnd({ shuffleId: 77, mapId: 0, attemptId: 0, numMappers: 2, partitions: [sum(0, 1, 1, 1)] })).rejects.toMatchObject({
      code: ErrorCodes.UNKNOWN_SHUFFLE,
    });
    // None of the refused ends counted.
    expect(await lm.mapperEnd({ shuffleId: 2, mapId: 0, attemptId: 5, numMappers: 2, partitions: [] })).toEqual({ winner: true, allMappersEnded: false });
  });

  it('commits on every worker in parallel, with each worker its own files of every epoch and the winning attempts', async () => {
    const lm = await env.start();
    for (const w of env.cluster.workers) w.commitDelayMs = 100;
    const first = await lm.registerShuffle(3, 3, 4);
    const [revived] = await lm.revive(3, [{ partitionId: 2, epoch: 0, mapId: 1, attemptId: 0, cause: PushStatus.SOFT_SPLIT }]);
    const all: PartitionLocation[] = [...first, revived!.location!];
    await lm.mapperEnd({ shuffleId: 3, mapId: 2, attemptId: 7, numMappers: 3, partitions: [] });
    await lm.mapperEnd({ shuffleId: 3, mapId: 0, attemptId: 0, numMappers: 3, partitions: [] });
    expect(env.cluster.workers.every((w) => w.commits.length === 0)).toBe(true);
    await lm.mapperEnd({ shuffleId: 3, mapId: 1, attemptId: 3, numMappers: 3, partitions: [] });
    await lm.waitForStageEnd(3);
    // All three commits were in flight at once.
    expect(env.cluster.probe.max).toBe(3);
    for (const w of env.cluster.workers) {
      expect(w.commits).toHaveLength(1);
      const c = w.commits[0]!;
      expect(c).toMatchObject({ appId: APP, shuffleId: 3, mapAttempts: [0, 3, 7] });
      const expected = all.flatMap((l) => [
        ...(addressKey(l.primary) === w.key ? [fileKey({ ...l, mode: Mode.Primary })] : []),
        ...(l.replica && addressKey(l.replica) === w.key ? [fileKey({ ...l, mode: Mode.Replica })] : []),
      ]);
      expect(c.files.map(fileKey).sort()).toEqual(expected.sort());
    }
  });

  it('builds the reducer file group from the committed copies and the winners’ sums', async () => {
    const lm = await env.start();
    const locations = await lm.registerShuffle(4, 3, 3);
    const [revived] = await lm.revive(4, [{ partitionId: 1, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT }]);
    const p1e1 = revived!.location!;
    await lm.mapperEnd({ shuffleId: 4, mapId: 0, attemptId: 0, numMappers: 3, partitions: [sum(0, 2, 100, 5), sum(1, 1, 50, 6), sum(1, 2, 25, 2 ** 32 - 1)] });
    await lm.mapperEnd({ shuffleId: 4, mapId: 1, attemptId: 2, numMappers: 3, partitions: [sum(1, 0, 0, 0), sum(2, 4, 400, 9)] });
    await lm.mapperEnd({ shuffleId: 4, mapId: 2, attemptId: 1, numMappers: 3, partitions: [] });
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    const group = await conn.call(GetReducerFileGroup, { shuffleId: 4, startPartition: 1, endPartition: 3 });
    expect(group.mapAttempts).toEqual([0, 2, 1]);
    expect(group.partitions.map((p) => p.partitionId)).toEqual([1, 2]);
    const copies = (l: PartitionLocation) =>
      [Mode.Primary, Mode.Replica].map((mode) => {
        const { bytes, chunkOffsets } = fakeCommittedSize({ partitionId: l.partitionId, epoch: l.epoch, mode });
        return { epoch: l.epoch, mode, address: mode === Mode.Primary ? l.primary : l.replica!, bytes, numChunks: chunkOffsets.length - 1 };
      });
    const [g1, g2] = group.partitions;
    expect(g1!.files).toEqual([...copies(locations[1]!), ...copies(p1e1)]);
    // Map 0 reported partition 1 twice: the entries add up (crc modulo 2^32); map 1 pushed nothing there.
    expect(g1!.expected).toEqual([{ mapId: 0, batches: 3, bytes: 75, crc: 5 }]);
    expect(g1!.lost).toBe(false);
    expect(g2!.files).toEqual(copies(locations[2]!));
    expect(g2!.expected).toEqual([{ mapId: 1, batches: 4, bytes: 400, crc: 9 }]);
    expect(g2!.lost).toBe(false);
    expect((await lm.getReducerFileGroup(4, 0, 3)).partitions.map((p) => p.partitionId)).toEqual([0, 1, 2]);
    expect((await lm.getReducerFileGroup(4, 2, 2)).partitions).toEqual([]);
    await expect(lm.getReducerFileGroup(4, 2, 4)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(lm.getReducerFileGroup(4, 2, 1)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
  });

  it('a location is lost only when neither its primary nor its replica committed', async () => {
    const lm = await env.start();
    const locations = await lm.registerShuffle(5, 1, 3);
    // Partition 0: primary's worker fails that file, replica commits → not lost.
    const l0 = locations[0]!;
    env.cluster.workerByKey(addressKey(l0.primary)).failCommitFiles.add(fileKey({ partitionId: 0, epoch: 0, mode: Mode.Primary }));
    // Partition 1: both copies fail → lost.
    const l1 = locations[1]!;
    env.cluster.workerByKey(addressKey(l1.primary)).failCommitFiles.add(fileKey({ partitionId: 1, epoch: 0, mode: Mode.Primary }));
    env.cluster.workerByKey(addressKey(l1.replica!)).failCommitFiles.add(fileKey({ partitionId: 1, epoch: 0, mode: Mode.Replica }));
    await lm.mapperEnd({ shuffleId: 5, mapId: 0, attemptId: 0, numMappers: 1, partitions: [0, 1, 2].map((p) => sum(p, 1, 1, 1)), epochs: [0, 1, 2].map((p) => ({ partitionId: p, epoch: 0 })) });
    const group = await lm.getReducerFileGroup(5, 0, 3);
    const [g0, g1, g2] = group.partitions;
    expect(g0!.lost).toBe(false);
    expect(g0!.files.map((f) => f.mode)).toEqual([Mode.Replica]);
    expect(g1!.lost).toBe(true);
    expect(g1!.files).toEqual([]);
    expect(g2!.lost).toBe(false);
    expect(g2!.files).toHaveLength(2);
  });

  it('an epoch no winner acknowledged data in is not lost when no copy of it commits', async () => {
    const lm = await env.start({ replicate: false });
    const [e0] = await lm.registerShuffle(17, 2, 1);
    const [revived] = await lm.revive(17, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.SOFT_SPLIT }]);
    const e1 = revived!.location!;
    expect(addressKey(e1.primary)).not.toBe(addressKey(e0!.primary));
    env.cluster.workerByKey(addressKey(e1.primary)).failCommit = true;
    // Both maps' batches landed in epoch 0; epoch 1 was opened by a split and got nothing.
    await lm.mapperEnd({ shuffleId: 17, mapId: 0, attemptId: 0, numMappers: 2, partitions: [sum(0, 2, 20, 3)], epochs: [{ partitionId: 0, epoch: 0 }] });
    await lm.mapperEnd({ shuffleId: 17, mapId: 1, attemptId: 0, numMappers: 2, partitions: [], epochs: [] });
    const [g] = (await lm.getReducerFileGroup(17, 0, 1)).partitions;
    expect(g!.lost).toBe(false);
    expect(g!.files.map((f) => f.epoch)).toEqual([0]);
    // The same failure loses data when a winner's batches landed in epoch 1.
    const lm2 = await env.start({ replicate: false });
    await lm2.registerShuffle(18, 1, 1);
    const [moved] = await lm2.revive(18, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.SOFT_SPLIT }]);
    for (const w of env.cluster.workers) w.failCommit = addressKey(w.address) === addressKey(moved!.location!.primary);
    await lm2.mapperEnd({ shuffleId: 18, mapId: 0, attemptId: 0, numMappers: 1, partitions: [sum(0, 2, 20, 3)], epochs: [0, 1].map((epoch) => ({ partitionId: 0, epoch })) });
    expect((await lm2.getReducerFileGroup(18, 0, 1)).partitions[0]!.lost).toBe(true);
  });

  it('counts every file of a worker that fails to answer the commit as not committed', async () => {
    const lm = await env.start();
    const locations = await lm.registerShuffle(6, 1, 6);
    const dead = env.cluster.workers[0]!;
    dead.failCommit = true;
    const everywhere = (n: number) => ({ partitions: Array.from({ length: n }, (_, p) => sum(p, 1, 1, 1)), epochs: Array.from({ length: n }, (_, p) => ({ partitionId: p, epoch: 0 })) });
    await lm.mapperEnd({ shuffleId: 6, mapId: 0, attemptId: 0, numMappers: 1, ...everywhere(6) });
    const group = await lm.getReducerFileGroup(6, 0, 6);
    for (const [p, g] of group.partitions.entries()) {
      const l = locations[p]!;
      const onDead = [addressKey(l.primary), addressKey(l.replica!)].filter((k) => k === dead.key).length;
      expect(g.files).toHaveLength(2 - onDead);
      expect(g.files.every((f) => addressKey(f.address) !== dead.key)).toBe(true);
      expect(g.lost).toBe(false);
    }
    // Without replication the same failure loses data.
    const lm2 = await env.start({ replicate: false });
    const single = await lm2.registerShuffle(7, 1, 3);
    await lm2.mapperEnd({ shuffleId: 7, mapId: 0, attemptId: 0, numMappers: 1, ...everywhere(3) });
    const g7 = await lm2.getReducerFileGroup(7, 0, 3);
    expect(g7.partitions.map((g) => g.lost)).toEqual(single.map((l) => addressKey(l.primary) === dead.key));
    expect(g7.partitions.some((g) => g.lost)).toBe(true);
  });

  it('does not wait out the commit retry bound for a gone worker whose every epoch has a committed copy elsewhere', async () => {
    const lm = await env.start({ commitRetryMs: 30_000, rpcTimeoutMs: 2000 });
    await lm.registerShuffle(16, 1, 6);
    const gone = env.cluster.workers[0]!.key;
    await env.cluster.workers[0]!.close();
    const t0 = Date.now();
    await lm.mapperEnd({ shuffleId: 16, mapId: 0, attemptId: 0, numMappers: 1, partitions: [] });
    const group = await lm.getReducerFileGroup(16, 0, 6);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(group.partitions.every((g) => !g.lost && g.files.length >= 1)).toBe(true);
    expect(group.partitions.flatMap((g) => g.files).every((f) => addressKey(f.address) !== gone)).toBe(true);
  });

  it('makes reducers wait for the stage end, and times out with a retriable STAGE_NOT_ENDED', async () => {
    const lm = await env.start({ getReducerFileGroupTimeoutMs: 150 });
    await lm.registerShuffle(8, 2, 1);
    await lm.mapperEnd({ shuffleId: 8, mapId: 0, attemptId: 0, numMappers: 2, partitions: [sum(0, 1, 8, 8)] });
    const t0 = Date.now();
    const err = await lm.getReducerFileGroup(8, 0, 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.STAGE_NOT_ENDED, retriable: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    let answered = false;
    const waiting = conn.call(GetReducerFileGroup, { shuffleId: 8, startPartition: 0, endPartition: 1 }).then((g) => {
      answered = true;
      return g;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    await lm.mapperEnd({ shuffleId: 8, mapId: 1, attemptId: 0, numMappers: 2, partitions: [] });
    const group = await waiting;
    expect(group.mapAttempts).toEqual([0, 0]);
    expect(group.partitions[0]!.expected).toEqual([{ mapId: 0, batches: 1, bytes: 8, crc: 8 }]);
  });

  it('counts the end of a map that pushed nothing before any push registered the shuffle', async () => {
    const lm = await env.start();
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    const end = (mapId: number, partitions: ReturnType<typeof sum>[] = []) => conn.call(MapperEnd, { shuffleId: 14, mapId, attemptId: 0, numMappers: 3, partitions, epochs: [] });
    expect(await end(0)).toEqual({ winner: true, allMappersEnded: false });
    expect(await end(0)).toEqual({ winner: true, allMappersEnded: false });
    await expect(conn.call(MapperEnd, { shuffleId: 14, mapId: 1, attemptId: 0, numMappers: 4, partitions: [], epochs: [] })).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    // The first push registers the shuffle; the early end counts towards the stage end.
    await conn.call(RegisterShuffle, { shuffleId: 14, numMappers: 3, numPartitions: 2 });
    expect(await end(1, [sum(1, 2, 20, 7)])).toEqual({ winner: true, allMappersEnded: false });
    expect(await end(2)).toEqual({ winner: true, allMappersEnded: true });
    const group = await lm.getReducerFileGroup(14, 0, 2);
    expect(group.mapAttempts).toEqual([0, 0, 0]);
    expect(group.partitions.map((p) => p.expected)).toEqual([[], [{ mapId: 1, batches: 2, bytes: 20, crc: 7 }]]);
    expect(group.partitions.every((p) => !p.lost)).toBe(true);
  });

  it('a stage whose every map pushed nothing ends without registering: every partition is empty', async () => {
    const lm = await env.start();
    const waiting = lm.getReducerFileGroup(15, 0, 1).catch((e: unknown) => e);
    await lm.mapperEnd({ shuffleId: 15, mapId: 1, attemptId: 3, numMappers: 2, partitions: [] });
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    const answer = conn.call(GetReducerFileGroup, { shuffleId: 15, startPartition: 5, endPartition: 9 });
    expect(await lm.mapperEnd({ shuffleId: 15, mapId: 0, attemptId: 0, numMappers: 2, partitions: [] })).toEqual({ winner: true, allMappersEnded: true });
    expect(await answer).toEqual({ mapAttempts: [0, 3], partitions: [] });
    // A reader that asked before the first map ended was answered unknown (nothing had ended then).
    expect(await waiting).toMatchObject({ code: ErrorCodes.UNKNOWN_SHUFFLE });
    expect(env.cluster.master.requestSlots).toEqual([]);
    await lm.unregisterShuffle(15);
    await expect(lm.getReducerFileGroup(15, 0, 1)).rejects.toMatchObject({ code: ErrorCodes.UNKNOWN_SHUFFLE });
  });

  it('answers UNKNOWN_SHUFFLE for a shuffle it does not know', async () => {
    const lm = await env.start();
    await expect(lm.getReducerFileGroup(42, 0, 1)).rejects.toMatchObject({ code: ErrorCodes.UNKNOWN_SHUFFLE });
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    await expect(conn.call(GetReducerFileGroup, { shuffleId: 42, startPartition: 0, endPartition: 1 })).rejects.toMatchObject({
      code: ErrorCodes.UNKNOWN_SHUFFLE,
    });
  });

  it('unregisters on the master and on every worker that held files, and forgets the shuffle', async () => {
    const lm = await env.start({ replicate: false });
    // One partition without replication: exactly one worker holds files.
    const [loc] = await lm.registerShuffle(9, 2, 1);
    const waiter = lm.getReducerFileGroup(9, 0, 1).catch((e: unknown) => e);
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    await conn.call(UnregisterShuffle, { appId: APP, shuffleId: 9 });
    expect(env.cluster.master.unregisters).toEqual([{ appId: APP, shuffleId: 9 }]);
    for (const w of env.cluster.workers) {
      expect(w.unregisters).toEqual(w.key === addressKey(loc!.primary) ? [{ appId: APP, shuffleId: 9 }] : []);
    }
    expect(await waiter).toMatchObject({ code: ErrorCodes.UNKNOWN_SHUFFLE });
    expect(lm.shuffleIds()).toEqual([]);
    await expect(lm.getReducerFileGroup(9, 0, 1)).rejects.toMatchObject({ code: ErrorCodes.UNKNOWN_SHUFFLE });
    // A registration afterwards starts afresh.
    expect((await conn.call(RegisterShuffle, { shuffleId: 9, numMappers: 2, numPartitions: 1 })).locations).toHaveLength(1);
  });

  it('unregister reaches the workers of every epoch and ignores failing workers', async () => {
    const lm = await env.start();
    await lm.registerShuffle(10, 1, 6);
    await lm.revive(10, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 0, cause: PushStatus.HARD_SPLIT }]);
    await env.cluster.workers[2]!.close();
    await lm.unregisterShuffle(10);
    expect(env.cluster.master.unregisters).toHaveLength(1);
    expect(env.cluster.workers[0]!.unregisters).toHaveLength(1);
    expect(env.cluster.workers[1]!.unregisters).toHaveLength(1);
  });

  it('a shuffle without maps ends as soon as it is registered', async () => {
    const lm = await env.start();
    await lm.registerShuffle(11, 0, 2);
    const group = await lm.getReducerFileGroup(11, 0, 2);
    expect(group.mapAttempts).toEqual([]);
    expect(group.partitions.map((p) => [p.lost, p.expected.length])).toEqual([
      [false, 0],
      [false, 0],
    ]);
  });

  it('a revive that completes after the stage ended is answered MAP_ENDED, released, and left out of the commit', async () => {
    const lm = await env.start();
    await lm.registerShuffle(12, 2, 1);
    await lm.mapperEnd({ shuffleId: 12, mapId: 0, attemptId: 0, numMappers: 2, partitions: [] });
    for (const w of env.cluster.workers) w.reserveDelayMs = 150;
    // A losing speculative attempt of map 1 asks for a new epoch; map 1's winner ends meanwhile.
    const late = lm.revive(12, [{ partitionId: 0, epoch: 0, mapId: 1, attemptId: 1, cause: PushStatus.HARD_SPLIT }]);
    await new Promise((r) => setTimeout(r, 50));
    await lm.mapperEnd({ shuffleId: 12, mapId: 1, attemptId: 0, numMappers: 2, partitions: [] });
    expect(await late).toEqual([{ status: PushStatus.MAP_ENDED }]);
    const group = await lm.getReducerFileGroup(12, 0, 1);
    expect(group.partitions[0]!.lost).toBe(false);
    expect(group.partitions[0]!.files.every((f) => f.epoch === 0)).toBe(true);
    for (const w of env.cluster.workers) for (const c of w.commits) expect(c.files.every((f) => f.epoch === 0)).toBe(true);
    // The unused epoch 1 reservation is destroyed.
    await waitFor(() => env.cluster.workers.every((w) => [...w.reserved.values()].every((f) => f.epoch === 0)));
    expect(env.cluster.workers.flatMap((w) => w.destroys.flatMap((d) => d.files)).every((f) => f.epoch === 1)).toBe(true);
    expect((await lm.registerShuffle(12, 2, 1))[0]!.epoch).toBe(0);
  });

  it('an unregister during the first allocation fails the registration and releases its slots', async () => {
    const lm = await env.start();
    for (const w of env.cluster.workers) w.reserveDelayMs = 100;
    const registering = lm.registerShuffle(13, 1, 3).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    await lm.unregisterShuffle(13);
    expect(await registering).toMatchObject({ code: ErrorCodes.UNKNOWN_SHUFFLE });
    await waitFor(() => env.cluster.workers.every((w) => w.reserved.size === 0));
    expect(env.cluster.workers.some((w) => w.destroys.length > 0)).toBe(true);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
