/**
 * Per-batch push answers that steer clients: SOFT_SPLIT (kept, move soon),
 * HARD_SPLIT (not kept, move now), MAP_ENDED and FAIL_LOCATION_COMMITTED
 * after commit, and HARD_SPLIT while the worker shuts down.
 */
import { expect, test } from 'vitest';
import { PushStatus, pushAccepted } from '../../src/protocol/index.js';
import { KiB, MiB, batch, commit, committedOf, connections, fileName, primary, pushData, pushMerged, readFile, reserve, worker } from './harness.js';

const KEY = 'app-1';
const FILE0 = { partitionId: 0, epoch: 0, mode: 0 } as const;

test('past the split threshold pushes answer SOFT_SPLIT and the data is kept', async () => {
  const w = await worker();
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)], 1000);
  const kept: Buffer[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const b = batch({ mapId: 0, attemptId: 0, batchId: i }, 284); // 300 bytes with the header
    statuses.push(await pushData(client, KEY, 0, b));
    kept.push(b);
  }
  // 300, 600, 900 bytes: under 1000; from 1200 on: over.
  expect(statuses).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
  // In a merged frame each batch gets its own answer: partition 1 is still small.
  const more = batch({ mapId: 0, attemptId: 0, batchId: 100 }, 84);
  expect(await pushMerged(client, KEY, [{ partitionId: 0, batch: more }, { partitionId: 1, batch: more }])).toEqual([
    PushStatus.SOFT_SPLIT,
    PushStatus.SUCCESS,
  ]);
  kept.push(more);
  const res = await commit(lm, 1, [FILE0]);
  expect(committedOf(res, 0).bytes).toBe(Buffer.concat(kept).length);
  expect((await readFile(client, KEY, fileName(0))).data.equals(Buffer.concat(kept))).toBe(true);
});

test('a push that would pass the hard split limit answers HARD_SPLIT and is not kept', async () => {
  const w = await worker({ hardSplitLimit: 4096, splitThreshold: 4096 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)]);
  const kept: Buffer[] = [];
  for (let i = 0; i < 4; i++) {
    const b = batch({ mapId: 0, attemptId: 0, batchId: i }, 984); // 1000 bytes
    expect(await pushData(client, KEY, 0, b)).toBe(PushStatus.SUCCESS);
    kept.push(b);
  }
  // 4000 + 1000 > 4096: refused, and so is every later one that does not fit.
  const refused = batch({ mapId: 0, attemptId: 0, batchId: 4 }, 984);
  expect(await pushData(client, KEY, 0, refused)).toBe(PushStatus.HARD_SPLIT);
  expect(await pushData(client, KEY, 0, refused)).toBe(PushStatus.HARD_SPLIT);
  // A batch that still fits is taken (4000 + 96 = 4096, the limit itself) and reaches the split threshold.
  const fits = batch({ mapId: 0, attemptId: 0, batchId: 5 }, 80);
  expect(await pushData(client, KEY, 0, fits)).toBe(PushStatus.SOFT_SPLIT);
  kept.push(fits);
  // Merged: the refused batch is HARD_SPLIT, the other partition's batch is kept.
  expect(await pushMerged(client, KEY, [{ partitionId: 0, batch: refused }, { partitionId: 1, batch: refused }])).toEqual([
    PushStatus.HARD_SPLIT,
    PushStatus.SUCCESS,
  ]);

  const res = await commit(lm, 1, [FILE0, { partitionId: 1, epoch: 0, mode: 0 }]);
  expect(committedOf(res, 0).bytes).toBe(4096);
  expect(committedOf(res, 1).bytes).toBe(refused.length);
  expect((await readFile(client, KEY, fileName(0))).data.equals(Buffer.concat(kept))).toBe(true);
});

test('a first batch larger than the hard limit is accepted into an empty file (no endless split)', async () => {
  const w = await worker({ hardSplitLimit: 4096, splitThreshold: 4096 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  const big = batch({ mapId: 0, attemptId: 0, batchId: 0 }, 10_000);
  const status = await pushData(client, KEY, 0, big);
  expect(pushAccepted(status)).toBe(true);
  // The file is now over the limit: the next batch must move.
  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 1 }, 1))).toBe(PushStatus.HARD_SPLIT);
  const res = await commit(lm, 1, [FILE0]);
  expect(committedOf(res, 0).bytes).toBe(big.length);
  expect((await readFile(client, KEY, fileName(0))).data.equals(big)).toBe(true);
});

test('while the worker shuts down, pushes answer HARD_SPLIT and commits are still served', async () => {
  // Enough buffered data that close() is still flushing when the push arrives.
  const w = await worker({ flushThreshold: 64 * MiB, memoryLimit: 256 * MiB, drainTimeoutMs: 20_000 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1), primary(2), primary(3)]);
  const big = Buffer.alloc(512 * KiB, 1);
  for (let i = 0; i < 32; i++) expect(await pushData(client, KEY, i % 4, batch({ mapId: 0, attemptId: 0, batchId: i }, big))).toBe(0);
  expect(w.memory().held).toBeGreaterThan(15 * MiB);

  const closing = w.close();
  expect(w.status().shuttingDown).toBe(true);
  const late = pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 99 }, 10));
  let status: number | string;
  try {
    status = await late;
  } catch (err) {
    status = (err as Error).message;
  }
  expect(status).toBe(PushStatus.HARD_SPLIT);
  // The stopping worker waits for the stage-end commit of what it holds, then stops by itself.
  expect(w.status()).toMatchObject({ state: 'stopping', waitingFor: { what: 'commits', shuffles: [{ key: KEY, files: 4, uncommitted: 4 }] } });
  const res = await commit(lm, 1, [0, 1, 2, 3].map((partitionId) => ({ ...FILE0, partitionId })));
  expect(res.failed).toEqual([]);
  expect(committedOf(res, 0).bytes).toBeGreaterThan(0);
  await closing;
  expect(w.status().state).toBe('stopped');
});

test('after commit, a push of an ended map answers MAP_ENDED and of another map FAIL_LOCATION_COMMITTED', async () => {
  const w = await worker();
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)]);
  const m0 = batch({ mapId: 0, attemptId: 0, batchId: 0 }, 10);
  const m1 = batch({ mapId: 1, attemptId: 0, batchId: 0 }, 10);
  const m7 = batch({ mapId: 7, attemptId: 0, batchId: 0 }, 10);
  expect(await pushData(client, KEY, 0, m0)).toBe(PushStatus.SUCCESS);
  expect(await pushData(client, KEY, 0, m1)).toBe(PushStatus.SUCCESS);
  const res = await commit(lm, 1, [FILE0], [0, -1]);
  expect(committedOf(res, 0).mapIds).toEqual([0, 1]);

  expect(await pushData(client, KEY, 0, m0)).toBe(PushStatus.MAP_ENDED);
  expect(await pushData(client, KEY, 0, m1)).toBe(PushStatus.FAIL_LOCATION_COMMITTED);
  // A map the commit does not know of has no winner either.
  expect(await pushData(client, KEY, 0, m7)).toBe(PushStatus.FAIL_LOCATION_COMMITTED);
  expect(await pushMerged(client, KEY, [{ partitionId: 0, batch: m0 }, { partitionId: 0, batch: m1 }])).toEqual([
    PushStatus.MAP_ENDED,
    PushStatus.FAIL_LOCATION_COMMITTED,
  ]);
  // The uncommitted partition 1 still takes data.
  expect(await pushData(client, KEY, 1, m1)).toBe(PushStatus.SUCCESS);
  // Late pushes changed nothing in the committed file.
  expect((await readFile(client, KEY, fileName(0))).data.equals(Buffer.concat([m0, m1]))).toBe(true);
});
