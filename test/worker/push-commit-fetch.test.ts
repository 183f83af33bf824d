/**
 * The data path end to end on one worker: pushes (PushData and
 * PushMergedData) from several connections, CommitFiles, then OpenStream and
 * ChunkFetch of every file. Files must hold exactly what was pushed, in push
 * order per connection, cut into batch-aligned chunks.
 */
import { randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { ALL_MAPS, PushStatus, Role, forEachBatch, type FileId } from '../../src/protocol/index.js';
import {
  KiB,
  batch,
  commit,
  committedOf,
  connections,
  expectedChunkOffsets,
  fileName,
  limited,
  open,
  primary,
  pushData,
  pushMerged,
  readFile,
  reserve,
  rng,
  splitBatches,
  worker,
} from './harness.js';

const KEY = 'app-1';

/** Payload sizes from 1 B to 256 KiB, mostly small, with both extremes present. */
function sizes(count: number, rand: (n: number) => number): number[] {
  const out = [1, 256 * KiB];
  while (out.length < count) {
    const r = rand(100);
    out.push(r < 70 ? 1 + rand(4 * KiB) : r < 95 ? 4 * KiB + rand(60 * KiB) : 64 * KiB + rand(192 * KiB + 1));
  }
  return out;
}

test('random PushData batches to 50 partitions from 4 connections come back exactly, in batch-aligned chunks', async () => {
  const chunkSize = 64 * KiB;
  const partitions = 50;
  const senders = 4;
  const seed = Date.now() % 1_000_000;
  const rand = rng(seed);
  const w = await worker({ chunkSize, flushThreshold: 256 * KiB });
  const { lm } = await connections(w);
  const files = Array.from({ length: partitions }, (_, p) => primary(p));
  await reserve(lm, 1, files);

  // pushed[sender][partition]: the batches each connection sent there, in order.
  // The sender is the batch's mapId, so a file can be split back by sender.
  const pushed = Array.from({ length: senders }, () => Array.from({ length: partitions }, () => [] as Buffer[]));
  const plans = Array.from({ length: senders }, (_, s) =>
    sizes(120, rand).map((n, i) => ({ partitionId: i < partitions ? i : rand(partitions), body: batch({ mapId: s, attemptId: 0, batchId: i }, randomBytes(n)) })),
  );
  for (let s = 0; s < senders; s++) for (const p of plans[s]!) pushed[s]![p.partitionId]!.push(p.body);

  await Promise.all(
    plans.map(async (plan) => {
      const c = await open(w.address, Role.Client);
      // Up to 8 requests in flight per connection: the worker must still append in arrival order.
      const statuses = await limited(plan, 8, (p) => pushData(c, KEY, p.partitionId, p.body));
      expect(statuses.every((s) => s === PushStatus.SUCCESS), `seed ${seed}`).toBe(true);
    }),
  );

  const ids: FileId[] = files.map(({ partitionId, epoch, mode }) => ({ partitionId, epoch, mode }));
  const res = await commit(lm, 1, ids, [0, 0, 0, 0]);
  expect(res.failed).toEqual([]);
  expect(res.committed).toHaveLength(partitions);
  // Commit is idempotent: a second call answers the same.
  const again = await commit(lm, 1, ids, [0, 0, 0, 0]);
  for (let p = 0; p < partitions; p++) expect(committedOf(again, p)).toEqual(committedOf(res, p));

  const reader = await open(w.address, Role.Client);
  let multiChunk = 0;
  await limited(files, 8, async ({ partitionId: p }) => {
    const info = committedOf(res, p);
    const { stream, chunks, data } = await readFile(reader, KEY, fileName(p));
    const expectedBytes = pushed.reduce((n, bySender) => n + bySender[p]!.reduce((m, b) => m + b.length, 0), 0);
    expect(info.bytes).toBe(expectedBytes);
    expect(data.length).toBe(expectedBytes);

    // Per connection, the file holds exactly what it pushed, in push order.
    const inFile = splitBatches(data);
    for (let s = 0; s < senders; s++) {
      const mine = Buffer.concat(inFile.filter((b) => b.header.mapId === s).map((b) => b.bytes));
      expect(mine.equals(Buffer.concat(pushed[s]![p]!)), `partition ${p} sender ${s} seed ${seed}`).toBe(true);
    }
    expect(info.mapIds).toEqual([...new Set(inFile.map((b) => b.header.mapId))].sort((a, b) => a - b));

    // Chunks: batch-aligned, each but the last at least chunkSize, as committed.
    expect(info.chunkOffsets).toEqual(expectedChunkOffsets(inFile.map((b) => b.bytes.length), chunkSize));
    expect(stream.numChunks).toBe(info.chunkOffsets.length - 1);
    chunks.forEach((chunk, i) => {
      expect(chunk.length).toBe(info.chunkOffsets[i + 1]! - info.chunkOffsets[i]!);
      let held = 0;
      forEachBatch(chunk, (_h, payload) => (held += 16 + payload.length));
      expect(held).toBe(chunk.length);
      if (i < chunks.length - 1) expect(chunk.length).toBeGreaterThanOrEqual(chunkSize);
    });
    if (chunks.length > 1) multiChunk++;
  });
  // The test means something only if files span several chunks.
  expect(multiChunk).toBeGreaterThan(10);
});

test('PushMergedData to 1,000 partitions: every batch SUCCESS, each file holds exactly its batches', async () => {
  const partitions = 1000;
  const rand = rng(7);
  const w = await worker({ chunkSize: 4 * KiB });
  const { lm, client } = await connections(w);
  const files = Array.from({ length: partitions }, (_, p) => primary(p));
  await reserve(lm, 1, files);

  const expected = Array.from({ length: partitions }, () => [] as Buffer[]);
  let batchId = 0;
  for (let frame = 0; frame < 4; frame++) {
    // Every partition once per frame in a shuffled order, plus some partitions
    // twice in the same frame (their order inside the frame must hold).
    const order = Array.from({ length: partitions }, (_, p) => p);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let k = 0; k < 50; k++) order.push(rand(partitions));
    const items = order.map((p) => ({ partitionId: p, batch: batch({ mapId: frame, attemptId: 0, batchId: batchId++ }, randomBytes(1 + rand(300))) }));
    for (const it of items) expected[it.partitionId]!.push(it.batch);
    const statuses = await pushMerged(client, KEY, items);
    expect(statuses.filter((s) => s !== PushStatus.SUCCESS)).toEqual([]);
  }

  const res = await commit(lm, 1, files.map(({ partitionId, epoch, mode }) => ({ partitionId, epoch, mode })));
  expect(res.failed).toEqual([]);
  expect(res.committed).toHaveLength(partitions);
  await limited(files, 16, async ({ partitionId: p }) => {
    const want = Buffer.concat(expected[p]!);
    const info = committedOf(res, p);
    expect(info.bytes).toBe(want.length);
    expect(info.mapIds).toEqual([0, 1, 2, 3]);
    const { data } = await readFile(client, KEY, fileName(p), 0, ALL_MAPS);
    expect(data.equals(want), `partition ${p}`).toBe(true);
  });
});

test('PushData and PushMergedData to the same file keep arrival order', async () => {
  const w = await worker({ chunkSize: 1024 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)]);
  const want: Buffer[] = [];
  for (let i = 0; i < 30; i++) {
    const b = batch({ mapId: 0, attemptId: 0, batchId: i }, 50 + i);
    want.push(b);
    if (i % 3 === 0) {
      expect(await pushData(client, KEY, 0, b)).toBe(PushStatus.SUCCESS);
    } else {
      const other = batch({ mapId: 1, attemptId: 0, batchId: i }, 10);
      expect(await pushMerged(client, KEY, [{ partitionId: 1, batch: other }, { partitionId: 0, batch: b }])).toEqual([0, 0]);
    }
  }
  const res = await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  expect(committedOf(res, 0).bytes).toBe(Buffer.concat(want).length);
  const { data } = await readFile(client, KEY, fileName(0));
  expect(data.equals(Buffer.concat(want))).toBe(true);
});

test('an empty committed file has no chunks', async () => {
  const w = await worker();
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  const res = await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  expect(committedOf(res, 0)).toMatchObject({ bytes: 0, chunkOffsets: [0], mapIds: [] });
  const { stream, data } = await readFile(client, KEY, fileName(0));
  expect(stream).toMatchObject({ numChunks: 0, totalBytes: 0 });
  expect(data.length).toBe(0);
});
