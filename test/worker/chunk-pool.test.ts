import { expect, test } from 'vitest';
import { ChunkCache } from '../../src/server/worker/chunk-cache.js';
import { ChunkPool } from '../../src/server/worker/chunk-pool.js';

const MiB = 1024 * 1024;

test('a chunk buffer returns to the pool only when neither the cache nor a write holds it', () => {
  const pool = new ChunkPool(16 * MiB);
  const cache = new ChunkCache(2 * MiB);
  const a = pool.take(1.5 * MiB);
  expect(a.data.length).toBe(1.5 * MiB);
  cache.set('a', 'file-a', a); // cache holds one reference
  a.release(); // the reader's reference: now only the cache holds it
  const hit = cache.get('a')!; // a write in progress holds one
  expect(hit).toBe(a);
  const b = pool.take(1.5 * MiB);
  cache.set('b', 'file-b', b); // evicts 'a' from the cache (2 MiB bound), but the write still holds it
  b.release();
  expect(pool.take(1.5 * MiB).data.buffer).not.toBe(a.data.buffer);
  hit.release(); // the write is done: now it is free
  const reused = pool.take(2 * MiB); // same 2 MiB size class
  expect(reused.data.buffer).toBe(a.data.buffer);
  expect(pool.reused).toBe(1);
});

test('the pool keeps at most its idle budget', () => {
  const pool = new ChunkPool(2 * MiB);
  const chunks = [pool.take(MiB), pool.take(MiB), pool.take(MiB)];
  for (const c of chunks) c.release();
  const again = [pool.take(MiB), pool.take(MiB), pool.take(MiB)];
  expect(pool.reused).toBe(2);
  expect(pool.allocated).toBe(4);
  for (const c of again) c.release();
});

test('dropFile releases the cached chunks of a deleted file', () => {
  const pool = new ChunkPool(16 * MiB);
  const cache = new ChunkCache(16 * MiB);
  const c = pool.take(MiB);
  cache.set('/data/app/1/0-0-primary@0+1', '/data/app/1/0-0-primary', c);
  c.release();
  cache.dropFile('/data/app/1/0-0-primary');
  expect(cache.bytes).toBe(0);
  expect(pool.take(MiB).data.buffer).toBe(c.data.buffer);
});
