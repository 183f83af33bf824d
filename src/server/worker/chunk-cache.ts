import type { PooledChunk } from './chunk-pool.js';

/**
 * A byte-bounded LRU of recently read chunks, keyed by file, offset and
 * length. A Map keeps insertion order, so re-inserting on hit makes the first
 * key the least recently used. The cache holds one reference to each chunk
 * and releases it on eviction, so its memory returns to the chunk pool once
 * no socket write holds it either. Sizes count the pooled memory a chunk pins
 * (its size class), not just its data.
 */
export class ChunkCache {
  private readonly entries = new Map<string, PooledChunk>();
  private size = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  /** The cached chunk, retained for the caller (who releases it), or undefined. */
  get(key: string): PooledChunk | undefined {
    const chunk = this.entries.get(key);
    if (chunk === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, chunk);
    return chunk.retain();
  }

  /** Keeps a reference to `chunk` (if it fits at all). */
  set(key: string, chunk: PooledChunk): void {
    if (chunk.capacity > this.maxBytes) return;
    this.remove(key);
    this.entries.set(key, chunk.retain());
    this.size += chunk.capacity;
    while (this.size > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest);
    }
  }

  /** Drops every chunk of files whose path starts with `prefix` (a deleted shuffle). */
  dropPrefix(prefix: string): void {
    for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.remove(k);
  }

  private remove(key: string): void {
    const chunk = this.entries.get(key);
    if (chunk === undefined) return;
    this.entries.delete(key);
    this.size -= chunk.capacity;
    chunk.release();
  }
}
