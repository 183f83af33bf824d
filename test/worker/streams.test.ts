/**
 * The stream manager as a reader sees it: the chunk cache, the cap on chunks
 * being transferred at once (SERVER_BUSY, retriable), and streams that die
 * with their connection.
 */
import { expect, test } from 'vitest';
import { BraidError, ErrorCodes, Role } from '../../src/protocol/index.js';
import { KiB, MiB, batch, commit, connections, fileName, open, openStream, primary, pushData, readFile, reserve, waitFor, worker } from './harness.js';

const KEY = 'app-1';

async function committedFile(options: Parameters<typeof worker>[0], batches: number, payload: number) {
  const w = await worker(options);
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  const pushed: Buffer[] = [];
  for (let i = 0; i < batches; i++) {
    const b = batch({ mapId: 0, attemptId: 0, batchId: i }, payload, i);
    pushed.push(b);
    expect(await pushData(client, KEY, 0, b)).toBe(0);
  }
  await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  return { w, client, pushed };
}

test('a chunk fetched twice is served from the cache the second time', async () => {
  const { w, client, pushed } = await committedFile({ chunkSize: 1000 }, 6, 984);
  const s = await openStream(client, KEY, fileName(0));
  expect(s.numChunks).toBe(6);
  const before = w.status().chunkCache;
  const first = await client.fetchChunk(s.streamId, 2);
  const mid = w.status().chunkCache;
  expect(mid.misses).toBe(before.misses + 1);
  expect(mid.hits).toBe(before.hits);
  // The cache counts the pooled memory a chunk pins: its size class, 64 KiB for 1000 bytes.
  expect(mid.bytes).toBe(before.bytes + 64 * 1024);
  const second = await client.fetchChunk(s.streamId, 2);
  const after = w.status().chunkCache;
  expect(after.hits).toBe(mid.hits + 1);
  expect(after.misses).toBe(mid.misses);
  expect(first.equals(pushed[2]!)).toBe(true);
  expect(second.equals(first)).toBe(true);
  // Another stream (another connection) on the same file shares the cache.
  const other = await open(w.address, Role.Client);
  const s2 = await openStream(other, KEY, fileName(0));
  expect((await other.fetchChunk(s2.streamId, 2)).equals(first)).toBe(true);
  expect(w.status().chunkCache.hits).toBe(after.hits + 1);
});

test('the cache is bounded in bytes', async () => {
  // Chunks of 1000 bytes pin 64 KiB each (their pool size class): room for two.
  const limit = 2.5 * 64 * 1024;
  const { w, client } = await committedFile({ chunkSize: 1000, chunkCacheSize: limit }, 6, 984);
  await readFile(client, KEY, fileName(0));
  expect(w.status().chunkCache.bytes).toBeLessThanOrEqual(limit);
  expect(w.status().chunkCache.bytes).toBe(2 * 64 * 1024);
});

test('over maxChunksInFlight, fetches fail SERVER_BUSY (retriable); retried, every chunk arrives', async () => {
  const { w, client, pushed } = await committedFile({ chunkSize: 256 * KiB, maxChunksInFlight: 1, chunkCacheSize: 1 }, 32, 256 * KiB);
  const s = await openStream(client, KEY, fileName(0));
  expect(s.numChunks).toBe(32);
  // Every request is on the wire before the first answer: they arrive together and only one can be in flight.
  const results = await Promise.allSettled(Array.from({ length: s.numChunks }, (_, i) => client.fetchChunk(s.streamId, i)));
  const busy = results.filter((r) => r.status === 'rejected');
  const ok = results.filter((r) => r.status === 'fulfilled');
  console.log(`maxChunksInFlight 1: ${ok.length} served, ${busy.length} busy`);
  for (const r of busy) {
    const err = (r as PromiseRejectedResult).reason as BraidError;
    expect(err).toBeInstanceOf(BraidError);
    expect(err.code).toBe(ErrorCodes.SERVER_BUSY);
    expect(err.retriable).toBe(true);
  }
  expect(ok.length).toBeGreaterThanOrEqual(1);
  expect(busy.length).toBeGreaterThan(0);

  // Fetched one at a time, every chunk is served and correct.
  for (let i = 0; i < s.numChunks; i++) expect((await client.fetchChunk(s.streamId, i)).equals(pushed[i]!)).toBe(true);
  expect(w.status().streams.chunksInFlight).toBe(0);
});

test('streams are freed when their connection closes', async () => {
  const { w, client } = await committedFile({ chunkSize: 1 * MiB }, 3, 100);
  const reader = await open(w.address, Role.Client);
  for (let i = 0; i < 5; i++) await openStream(reader, KEY, fileName(0));
  await openStream(client, KEY, fileName(0));
  expect(w.status().streams.open).toBe(6);
  reader.close();
  await waitFor(() => w.status().streams.open === 1, 'the closed connection’s streams to be freed');
  client.close();
  await waitFor(() => w.status().streams.open === 0, 'all streams to be freed');
});

test('a stream is forgotten once every chunk was sent, while its connection stays open', async () => {
  const { w, client } = await committedFile({ chunkSize: 1000 }, 6, 984);
  const s = await openStream(client, KEY, fileName(0));
  for (let i = 0; i < s.numChunks - 1; i++) await client.fetchChunk(s.streamId, i);
  expect(w.status().streams.open).toBe(1);
  await client.fetchChunk(s.streamId, s.numChunks - 1);
  expect(w.status().streams.open).toBe(0);
  await expect(client.fetchChunk(s.streamId, 0)).rejects.toMatchObject({ code: 'BRAID_ERR_UNKNOWN_STREAM' });
});
