import { describe, expect, test } from 'vitest';
import { every, lifecycle, master, sleep, waitFor, workers } from './helpers.js';

describe('applications and shuffle expiry', () => {
  test('an application silent past the timeout expires: workers are told to delete its shuffles', async () => {
    const m = await master({ appTimeoutMs: 200 });
    const [w] = await workers(m, '127.0.0.1:1001', '127.0.0.2:1002');
    if (w === undefined) throw new Error('no worker');
    const silent = await lifecycle(m, 'app_1');
    const alive = await lifecycle(m, 'app_2');
    await silent.slots(0, 2, true);
    await silent.slots(1, 1);
    await alive.slots(7, 1);
    every(40, () => alive.heartbeat([7]));
    w.activeShuffleKeys = ['app_1-0', 'app_1-1', 'app_2-7'];
    expect(await w.heartbeat()).toEqual({ registered: true, expiredShuffleKeys: [], expiredAppIds: [] });
    expect(m.status().applications.map((a) => [a.appId, a.shuffles])).toEqual([
      ['app_1', [0, 1]],
      ['app_2', [7]],
    ]);

    await waitFor(() => !m.status().applications.some((a) => a.appId === 'app_1'));
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual(['app_1-0', 'app_1-1']);
    const s = m.status();
    expect(s.applications.map((a) => a.appId)).toEqual(['app_2']);
    expect(s.shuffles.map((x) => [x.key, x.slots])).toEqual([['app_2-7', 1]]);
    expect(s.workers.reduce((n, x) => n + x.slots, 0)).toBe(1);
    expect(s.expiredShuffleKeys).toEqual(['app_1-0', 'app_1-1']);
  });

  test('UnregisterShuffle expires the key and releases its slots; a late heartbeat does not bring it back', async () => {
    const m = await master();
    const [w] = await workers(m, '127.0.0.1:1001', '127.0.0.1:1002');
    if (w === undefined) throw new Error('no worker');
    const lm = await lifecycle(m);
    await lm.slots(0, 4, true);
    await lm.slots(1, 2);
    w.activeShuffleKeys = ['app_1-0', 'app_1-1'];
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual([]);
    expect(m.status().workers.map((x) => x.slots)).toEqual([5, 5]);

    await lm.unregister(0);
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual(['app_1-0']);
    expect(m.status().workers.map((x) => x.slots)).toEqual([1, 1]);
    expect(m.status().shuffles.map((x) => x.key)).toEqual(['app_1-1']);

    await lm.heartbeat([0, 1]);
    expect(m.status().applications).toMatchObject([{ appId: 'app_1', shuffles: [1] }]);
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual(['app_1-0']);

    // Asking for slots again makes the shuffle live again.
    await lm.slots(0, 1);
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual([]);
  });

  test('unregistering a shuffle the master never saw still expires it on workers', async () => {
    const m = await master();
    const [w] = await workers(m, '127.0.0.1:1001');
    if (w === undefined) throw new Error('no worker');
    const lm = await lifecycle(m);
    await lm.heartbeat([]);
    await lm.unregister(42);
    w.activeShuffleKeys = ['app_1-42', 'app_1-43'];
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual(['app_1-42']);
  });

  test('expired keys are forgotten once no live worker reports them', async () => {
    const m = await master({ workerTimeoutMs: 200 });
    const [a, b] = await workers(m, '127.0.0.1:1001', '127.0.0.1:1002');
    if (a === undefined || b === undefined) throw new Error('no workers');
    const lm = await lifecycle(m);
    await lm.slots(0, 1);
    await lm.slots(1, 1);
    every(40, () => lm.heartbeat([]));
    // `a` deletes what it is told to; `b` keeps reporting app_1-1.
    a.activeShuffleKeys = ['app_1-0'];
    b.activeShuffleKeys = ['app_1-1'];
    every(40, async () => {
      const r = await a.heartbeat();
      a.activeShuffleKeys = a.activeShuffleKeys.filter((k) => !r.expiredShuffleKeys.includes(k));
    });
    every(40, () => b.heartbeat());
    await lm.unregister(0);
    await lm.unregister(1);
    expect(m.status().expiredShuffleKeys).toEqual(['app_1-0', 'app_1-1']);
    await waitFor(() => a.activeShuffleKeys.length === 0);
    await waitFor(() => m.status().expiredShuffleKeys.length === 1);
    expect(m.status().expiredShuffleKeys).toEqual(['app_1-1']);
    await sleep(300);
    expect(m.status().expiredShuffleKeys).toEqual(['app_1-1']);
    expect((await b.heartbeat()).expiredShuffleKeys).toEqual(['app_1-1']);
  });

  test('after a start, unknown applications get appTimeoutMs to heartbeat before their keys expire', async () => {
    const m = await master({ appTimeoutMs: 1000 });
    const [w] = await workers(m, '127.0.0.1:1001');
    if (w === undefined) throw new Error('no worker');
    // The master just (re)started: workers still hold shuffles of applications it has not heard of.
    w.activeShuffleKeys = ['gone-1', 'alive-2', 'spark-app-7-3', 'spark-app-4'];
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual([]);
    const alive = await lifecycle(m, 'alive');
    const spark = await lifecycle(m, 'spark-app-7');
    every(40, () => alive.heartbeat([2]));
    every(40, () => spark.heartbeat([3]));
    await waitFor(() => m.status().applications.length === 2);
    // The rebuilt view comes from the application heartbeats.
    expect(m.status().shuffles.map((s) => s.key)).toEqual(['alive-2', 'spark-app-7-3']);
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual([]);
    await waitFor(() => m.status().uptimeMs > 1020);
    expect((await w.heartbeat()).expiredShuffleKeys).toEqual(['gone-1', 'spark-app-4']);
  });
});
