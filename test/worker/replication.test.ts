/**
 * Replication between two real workers: the primary forwards what it keeps
 * to its replica and answers only after the replica did, so both copies end
 * up byte-identical. A dead replica turns pushes into FAIL_REPLICA, and the
 * primary then fails them fast instead of reconnecting on every push.
 */
import { expect, test } from 'vitest';
import { Mode, PushStatus, Role } from '../../src/protocol/index.js';
import { TransportServer } from '../../src/transport/index.js';
import {
  batch,
  commit,
  committedOf,
  connections,
  fileName,
  onCleanup,
  primary,
  pushData,
  pushMerged,
  readFile,
  replica,
  reserve,
  splitBatches,
  worker,
} from './harness.js';

const KEY = 'app-1';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Failing fast means no connect and no replica timeout: about a millisecond
 * on loopback. The median must be under 100 ms; a single push may take
 * longer only by a scheduling stall on a loaded machine, never as long as
 * the replica timeout (500 ms in these tests).
 */
function expectFast(times: number[]): void {
  expect(median(times)).toBeLessThan(100);
  for (const t of times) expect(t).toBeLessThan(250);
}

async function pair() {
  const a = await worker({ chunkSize: 4096 });
  const b = await worker({ chunkSize: 3000 });
  const ca = await connections(a);
  const cb = await connections(b);
  return { a, b, lmA: ca.lm, lmB: cb.lm, client: ca.client, clientB: cb.client };
}

test('pushes to a primary reach its replica; both committed copies are byte-identical', async () => {
  const { a, b, lmA, lmB, client, clientB } = await pair();
  const parts = [0, 1, 2];
  await reserve(lmA, 1, parts.map((p) => primary(p, 0, b.address)));
  await reserve(lmB, 1, parts.map((p) => replica(p, 0, a.address)));

  const want = parts.map(() => [] as Buffer[]);
  let id = 0;
  for (let round = 0; round < 20; round++) {
    const single = batch({ mapId: round % 4, attemptId: 0, batchId: id++ }, 100 + round * 37);
    expect(await pushData(client, KEY, round % 3, single)).toBe(PushStatus.SUCCESS);
    want[round % 3]!.push(single);
    // A merged frame whose batches all go to one peer is forwarded whole.
    const items = parts.map((p) => ({ partitionId: p, batch: batch({ mapId: round % 4, attemptId: 0, batchId: id++ }, 10 + p * round) }));
    expect(await pushMerged(client, KEY, items)).toEqual([0, 0, 0]);
    for (const it of items) want[it.partitionId]!.push(it.batch);
  }
  // A merged frame with a rejected batch (partition 9 is not reserved): only the kept batches are forwarded.
  const mixed = [
    { partitionId: 2, batch: batch({ mapId: 0, attemptId: 0, batchId: id++ }, 77) },
    { partitionId: 9, batch: batch({ mapId: 0, attemptId: 0, batchId: id++ }, 5) },
    { partitionId: 0, batch: batch({ mapId: 0, attemptId: 0, batchId: id++ }, 66) },
  ];
  expect(await pushMerged(client, KEY, mixed)).toEqual([PushStatus.SUCCESS, PushStatus.FAIL_UNKNOWN_LOCATION, PushStatus.SUCCESS]);
  want[2]!.push(mixed[0]!.batch);
  want[0]!.push(mixed[2]!.batch);

  const ids = (mode: Mode) => parts.map((p) => ({ partitionId: p, epoch: 0, mode }));
  const ra = await commit(lmA, 1, ids(Mode.Primary), [0, 0, 0, 0]);
  const rb = await commit(lmB, 1, ids(Mode.Replica), [0, 0, 0, 0]);
  expect(ra.failed).toEqual([]);
  expect(rb.failed).toEqual([]);
  for (const p of parts) {
    const expected = Buffer.concat(want[p]!);
    expect(committedOf(ra, p).bytes).toBe(expected.length);
    expect(committedOf(rb, p, 0, Mode.Replica).bytes).toBe(expected.length);
    const onA = await readFile(client, KEY, fileName(p, 0, Mode.Primary));
    const onB = await readFile(clientB, KEY, fileName(p, 0, Mode.Replica));
    expect(onA.data.equals(expected)).toBe(true);
    expect(onB.data.equals(onA.data)).toBe(true);
    // Map-range reads sort each copy on its own worker; both give maps 1 and 2 in push order.
    const wantRange = Buffer.concat([1, 2].flatMap((m) => splitBatches(expected).filter((x) => x.header.mapId === m).map((x) => x.bytes)));
    expect((await readFile(client, KEY, fileName(p, 0, Mode.Primary), 1, 3)).data.equals(wantRange)).toBe(true);
    expect((await readFile(clientB, KEY, fileName(p, 0, Mode.Replica), 1, 3)).data.equals(wantRange)).toBe(true);
  }
  // After commit, late pushes of ended maps are dropped on the primary.
  expect(await pushData(client, KEY, 0, batch({ mapId: 1, attemptId: 0, batchId: id++ }, 5))).toBe(PushStatus.MAP_ENDED);
});

test('a replica that has no such location makes the push FAIL_REPLICA', async () => {
  const { b, lmA, client } = await pair();
  await reserve(lmA, 1, [primary(0, 0, b.address)]);
  // b has not reserved 0-0-replica: it answers FAIL_UNKNOWN_LOCATION, the client sees FAIL_REPLICA.
  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 0 }, 10))).toBe(PushStatus.FAIL_REPLICA);
});

test('a dead replica: pushes answer FAIL_REPLICA, and after the first failure they fail fast', async () => {
  const { a, b, lmA, lmB, client } = await pair();
  await reserve(lmA, 1, [primary(0, 0, b.address), primary(1, 0, b.address)]);
  await reserve(lmB, 1, [replica(0, 0, a.address), replica(1, 0, a.address)]);
  // Replication works before the replica dies.
  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 0 }, 10))).toBe(PushStatus.SUCCESS);

  await b.close();

  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 1 }, 10))).toBe(PushStatus.FAIL_REPLICA);
  const merged = await pushMerged(client, KEY, [
    { partitionId: 0, batch: batch({ mapId: 0, attemptId: 0, batchId: 2 }, 10) },
    { partitionId: 1, batch: batch({ mapId: 0, attemptId: 0, batchId: 3 }, 10) },
  ]);
  expect(merged).toEqual([PushStatus.FAIL_REPLICA, PushStatus.FAIL_REPLICA]);

  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const s = await pushData(client, KEY, i % 2, batch({ mapId: 0, attemptId: 0, batchId: 10 + i }, 1000));
    times.push(performance.now() - t0);
    expect(s).toBe(PushStatus.FAIL_REPLICA);
  }
  console.log(`pushes after the replica died: max ${Math.max(...times).toFixed(2)} ms, median ${median(times).toFixed(2)} ms`);
  expectFast(times);
});

test('a replica that stops answering: the first push waits for the replica timeout, later ones fail fast', async () => {
  // A "worker" that takes the replica's connection and swallows every push.
  const swallowed: number[] = [];
  const silent = await TransportServer.listen({ role: Role.Worker, onRequest: (m) => void swallowed.push(m.type) });
  onCleanup(() => silent.close());
  const a = await worker({ replicaTimeoutMs: 500, deadPeerBackoffMs: 10_000 });
  const { lm, client } = await connections(a);
  await reserve(lm, 1, [primary(0, 0, silent.address)]);

  const t0 = performance.now();
  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 0 }, 10))).toBe(PushStatus.FAIL_REPLICA);
  const first = performance.now() - t0;
  expect(first).toBeGreaterThanOrEqual(450);
  expect(swallowed).toHaveLength(1);

  const times: number[] = [];
  for (let i = 1; i <= 10; i++) {
    const t = performance.now();
    expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: i }, 10))).toBe(PushStatus.FAIL_REPLICA);
    times.push(performance.now() - t);
  }
  console.log(`silent replica: first push ${first.toFixed(0)} ms, then max ${Math.max(...times).toFixed(2)} ms, median ${median(times).toFixed(2)} ms`);
  expectFast(times);
  // Failed fast: nothing more was sent to the dead peer.
  expect(swallowed).toHaveLength(1);
});
