import { describe, expect, test } from 'vitest';
import { ErrorCodes, Role } from '../../src/protocol/index.js';
import { FakeLifecycle, client, count, disk, keyOf, lifecycle, master, workers } from './helpers.js';

const A = '127.0.0.1:1001';
const B = '127.0.0.1:1002';
const C = '127.0.0.2:1003';

describe('round-robin slots', () => {
  test('primaries spread evenly and the cursor carries over between requests', async () => {
    const m = await master();
    // Registered out of order: allocation follows address order, not registration order.
    await workers(m, C, A, B);
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 9);
    expect(r.slots.map((s) => keyOf(s.primary))).toEqual([A, B, C, A, B, C, A, B, C]);
    expect(r.slots.every((s) => s.replica === undefined)).toBe(true);
    expect((await lm.slots(1, 2)).slots.map((s) => keyOf(s.primary))).toEqual([A, B]);
    expect((await lm.slots(2, 2)).slots.map((s) => keyOf(s.primary))).toEqual([C, A]);
    expect(count((await lm.slots(3, 300)).slots.map((s) => keyOf(s.primary)))).toEqual(
      new Map([
        [B, 100],
        [C, 100],
        [A, 100],
      ]),
    );
  });

  test('a replica is never its primary and is on another host when there is one', async () => {
    const m = await master();
    await workers(m, A, B, C);
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 6, true);
    expect(r.slots.map((s) => [keyOf(s.primary), keyOf(s.replica)])).toEqual([
      [A, C],
      [B, C],
      [C, A],
      [A, C],
      [B, C],
      [C, A],
    ]);
    const status = m.status();
    // Both copies count as slots.
    expect(status.shuffles).toEqual([{ key: 'app_1-0', appId: 'app_1', shuffleId: 0, slots: 12, slotsByWorker: { [A]: 4, [B]: 2, [C]: 6 } }]);
    expect(status.workers.map((w) => [w.address, w.slots])).toEqual([
      [A, 4],
      [B, 2],
      [C, 6],
    ]);
  });

  test('on a single host the replica is the next other worker', async () => {
    const m = await master();
    await workers(m, '10.0.0.1:3', '10.0.0.1:1', '10.0.0.1:2');
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 3, true);
    expect(r.slots.map((s) => [keyOf(s.primary), keyOf(s.replica)])).toEqual([
      ['10.0.0.1:1', '10.0.0.1:2'],
      ['10.0.0.1:2', '10.0.0.1:3'],
      ['10.0.0.1:3', '10.0.0.1:1'],
    ]);
  });

  test('excluded workers are honoured', async () => {
    const m = await master();
    await workers(m, A, B, C);
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 4, true, [A]);
    const used = r.slots.flatMap((s) => [keyOf(s.primary), keyOf(s.replica)]);
    expect(used).not.toContain(A);
    expect(new Set(used)).toEqual(new Set([B, C]));
    expect(r.spareWorkers).toEqual([]);
    await expect(lm.slots(1, 1, false, [A, B, C])).rejects.toMatchObject({ code: ErrorCodes.SLOTS_UNAVAILABLE, retriable: true });
    // Excluding an unknown address changes nothing.
    expect((await lm.slots(2, 3, false, ['9.9.9.9:9'])).slots).toHaveLength(3);
  });

  test('SLOTS_UNAVAILABLE without workers, or with one worker and replication', async () => {
    const m = await master();
    const lm = await lifecycle(m);
    const none = lm.slots(0, 1);
    await expect(none).rejects.toMatchObject({ code: ErrorCodes.SLOTS_UNAVAILABLE, retriable: true });
    await expect(none).rejects.toThrow(/no worker can take slots/);
    await workers(m, A);
    await expect(lm.slots(0, 1, true)).rejects.toMatchObject({ code: ErrorCodes.SLOTS_UNAVAILABLE, retriable: true });
    await expect(lm.slots(0, 1, true)).rejects.toThrow(/replication needs two workers/);
    expect((await lm.slots(0, 2)).slots.map((s) => keyOf(s.primary))).toEqual([A, A]);
    // A refused request still shows the application alive, but registers no shuffle.
    expect(m.status().shuffles.map((s) => s.key)).toEqual(['app_1-0']);
  });

  test('spare workers are the unused candidates, at most 8', async () => {
    const m = await master();
    const addrs = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 1}:${2000 + i}`);
    await workers(m, ...addrs);
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 2, true);
    const used = new Set(r.slots.flatMap((s) => [keyOf(s.primary), keyOf(s.replica)]));
    const spares = r.spareWorkers.map(keyOf);
    expect(spares).toHaveLength(8);
    expect(new Set(spares).size).toBe(8);
    for (const s of spares) expect(used.has(s)).toBe(false);
    const few = await lm.slots(1, 1, false, addrs.slice(3));
    expect(few.spareWorkers.map(keyOf).sort()).toEqual(addrs.slice(0, 3).filter((a) => a !== keyOf(few.slots[0]?.primary)).sort());
  });

  test('a count over the limit and an empty appId are invalid requests', async () => {
    const m = await master();
    await workers(m, A);
    const lm = await lifecycle(m);
    await expect(lm.slots(0, 10_000_000)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST, retriable: false });
    // An application connection must name its application; an admin (any application) may send an empty one, which is refused.
    await expect(lifecycle(m, '')).rejects.toMatchObject({ code: ErrorCodes.HANDSHAKE });
    const admin = new FakeLifecycle(await client(m, Role.Admin), '');
    await expect(admin.slots(0, 1)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
  });
});

describe('load-aware slots', () => {
  test('the least loaded worker gets the next slot; released slots count again', async () => {
    const m = await master({ slotStrategy: 'loadaware' });
    await workers(m, A, B, C);
    const lm = await lifecycle(m);
    expect((await lm.slots(0, 5)).slots.map((s) => keyOf(s.primary))).toEqual([A, B, C, A, B]);
    // C holds 1 slot, A and B 2 each.
    expect((await lm.slots(1, 1)).slots.map((s) => keyOf(s.primary))).toEqual([C]);
    expect(m.status().workers.map((w) => w.slots)).toEqual([2, 2, 2]);
    await lm.unregister(0);
    expect(m.status().workers.map((w) => w.slots)).toEqual([0, 0, 1]);
    expect((await lm.slots(2, 3)).slots.map((s) => keyOf(s.primary))).toEqual([A, B, A]);
  });

  test('load is shared across applications', async () => {
    const m = await master({ slotStrategy: 'loadaware' });
    await workers(m, A, B);
    const one = await lifecycle(m, 'one');
    const two = await lifecycle(m, 'two');
    await one.slots(0, 3); // A, B, A
    expect((await two.slots(0, 1)).slots.map((s) => keyOf(s.primary))).toEqual([B]);
  });

  test('replicas go to the least loaded worker on another host', async () => {
    const m = await master({ slotStrategy: 'loadaware' });
    await workers(m, A, B, C);
    const lm = await lifecycle(m);
    const r = await lm.slots(0, 2, true);
    expect(r.slots.map((s) => [keyOf(s.primary), keyOf(s.replica)])).toEqual([
      [A, C],
      [B, C],
    ]);
    for (const s of r.slots) expect(s.replica?.host).not.toBe(s.primary.host);
  });

  test('more free space takes more slots', async () => {
    const m = await master({ slotStrategy: 'loadaware' });
    const [a, b] = await workers(m, A, B);
    if (a === undefined || b === undefined) throw new Error('no workers');
    a.disks = [disk(1e12)];
    b.disks = [disk(1e11), disk(5e11, false, '/broken')];
    await Promise.all([a.heartbeat(), b.heartbeat()]);
    const lm = await lifecycle(m);
    const c = count((await lm.slots(0, 22)).slots.map((s) => keyOf(s.primary)));
    expect(c.get(A)).toBe(20);
    expect(c.get(B)).toBe(2);
  });
});
