import { describe, expect, test } from 'vitest';
import { ErrorCodes, RegisterWorker } from '../../src/protocol/index.js';
import { FakeWorker, client, disk, every, keyOf, lifecycle, master, waitFor, workers } from './helpers.js';

describe('worker registration and liveness', () => {
  test('register answers the heartbeat interval; heartbeats update the view', async () => {
    const m = await master({ heartbeatIntervalMs: 1234 });
    const [w] = await workers(m, '127.0.0.1:1001');
    if (w === undefined) throw new Error('no worker');
    expect(await w.register()).toEqual({ heartbeatIntervalMs: 1234 });
    w.disks = [disk(500, true, '/a'), disk(0, false, '/b')];
    w.activeShuffleKeys = ['app_1-0', 'app_1-1'];
    expect(await w.heartbeat()).toEqual({ registered: true, expiredShuffleKeys: [], expiredAppIds: [] });
    const s = m.status();
    expect(s.workers).toHaveLength(1);
    expect(s.workers[0]).toMatchObject({
      address: '127.0.0.1:1001',
      lost: false,
      shuttingDown: false,
      activeShuffles: 2,
      slots: 0,
      disks: [
        { path: '/a', freeBytes: 500, healthy: true },
        { path: '/b', freeBytes: 0, healthy: false },
      ],
    });
    expect(s.workers[0]?.lastHeartbeatAgoMs).toBeLessThan(1000);
  });

  test('a heartbeat from an unknown worker answers registered:false', async () => {
    const m = await master();
    const conn = await client(m);
    await workers(m, '127.0.0.1:1001');
    const stranger = new FakeWorker(conn, '127.0.0.9:1009');
    stranger.activeShuffleKeys = ['x-1'];
    expect(await stranger.heartbeat()).toEqual({ registered: false, expiredShuffleKeys: [], expiredAppIds: [] });
    expect(m.status().workers.map((x) => x.address)).toEqual(['127.0.0.1:1001']);
    await stranger.register();
    expect((await stranger.heartbeat()).registered).toBe(true);
  });

  test('a bad worker address is an invalid request', async () => {
    const m = await master();
    const conn = await client(m);
    await expect(conn.call(RegisterWorker, { address: { host: '', port: 1 }, disks: [] })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_REQUEST,
    });
    await expect(conn.call(RegisterWorker, { address: { host: 'h', port: 0 }, disks: [] })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_REQUEST,
    });
  });

  test('a silent worker is lost, gets no slots, and comes back after registering again', async () => {
    const m = await master({ workerTimeoutMs: 200 });
    const [a, b] = await workers(m, '127.0.0.1:1001', '127.0.0.2:1002');
    if (a === undefined || b === undefined) throw new Error('no workers');
    const lm = await lifecycle(m);
    every(40, () => a.heartbeat());
    every(40, () => lm.heartbeat());

    const before = await lm.slots(0, 4);
    expect(new Set(before.slots.map((s) => keyOf(s.primary)))).toEqual(new Set([a.key, b.key]));

    await waitFor(() => m.status().workers.find((w) => w.address === b.key)?.lost === true);
    expect(m.status().workers.find((w) => w.address === a.key)?.lost).toBe(false);
    const during = await lm.slots(1, 6);
    expect(during.slots.map((s) => keyOf(s.primary))).toEqual(Array(6).fill(a.key));
    expect(during.spareWorkers).toEqual([]);
    await expect(lm.slots(2, 1, true)).rejects.toMatchObject({ code: ErrorCodes.SLOTS_UNAVAILABLE, retriable: true });

    // Heartbeating again is not enough: the worker must re-register.
    expect(await b.heartbeat()).toEqual({ registered: false, expiredShuffleKeys: [], expiredAppIds: [] });
    expect((await lm.slots(3, 2)).slots.every((s) => keyOf(s.primary) === a.key)).toBe(true);
    await b.register();
    expect(await b.heartbeat()).toMatchObject({ registered: true });
    expect(m.status().workers.find((w) => w.address === b.key)?.lost).toBe(false);
    const after = await lm.slots(4, 4, true);
    expect(new Set(after.slots.map((s) => keyOf(s.primary)))).toEqual(new Set([a.key, b.key]));
  });

  test('with an injected clock: silence past the timeout loses the worker whenever the sweep runs', async () => {
    let t = 1_000_000;
    const m = await master({ workerTimeoutMs: 100, now: () => t });
    const [a, b] = await workers(m, '127.0.0.1:1001', '127.0.0.1:1002');
    if (a === undefined || b === undefined) throw new Error('no workers');
    const lm = await lifecycle(m);
    t += 90;
    expect((await a.heartbeat()).registered).toBe(true);
    t += 60; // b has now been silent for 150 ms, a for 60 ms
    expect((await lm.slots(0, 3)).slots.map((s) => keyOf(s.primary))).toEqual([a.key, a.key, a.key]);
    expect((await b.heartbeat()).registered).toBe(false);
    expect(m.status().workers.map((w) => [w.address, w.lost, w.lastHeartbeatAgoMs])).toEqual([
      [a.key, false, 60],
      [b.key, true, 150],
    ]);
    t += 200;
    await expect(lm.slots(1, 1)).rejects.toMatchObject({ code: ErrorCodes.SLOTS_UNAVAILABLE });
    expect((await a.heartbeat()).registered).toBe(false);
  });

  test('shutting-down workers and workers without free healthy disk get no slots', async () => {
    const m = await master();
    const [a, b, c, d] = await workers(m, '127.0.0.1:1001', '127.0.0.1:1002', '127.0.0.1:1003', '127.0.0.1:1004');
    if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error('no workers');
    b.shuttingDown = true;
    c.disks = [disk(0, true), disk(1e9, false, '/bad')];
    d.disks = [];
    await Promise.all([b.heartbeat(), c.heartbeat(), d.heartbeat()]);
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 5);
    expect(r.slots.map((s) => keyOf(s.primary))).toEqual(Array(5).fill(a.key));
    expect(m.status().workers.find((w) => w.address === b.key)?.shuttingDown).toBe(true);
    // Registering again (a restarted worker) clears shuttingDown.
    await b.register();
    expect(new Set((await lm.slots(1, 4)).slots.map((s) => keyOf(s.primary)))).toEqual(new Set([a.key, b.key]));
  });
});
