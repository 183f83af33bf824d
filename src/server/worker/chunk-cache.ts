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
  private readonly entries = new Map<string, { file: string; chunk: PooledChunk }>();
  /** Keys by file, so a deleted file's chunks go without scanning the whole cache. */
  private readonly byFile = new Map<string, Set<string>>();
  private size = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  /** The cached chunk, retained for the caller (who releases it), or undefined. */
  get(key: string): PooledChunk | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.chunk.retain();
  }

  /** Keeps a reference to `chunk`, a piece of `file` (if it fits at all). */
  set(key: string, file: string, chunk: PooledChunk): void {
    if (chunk.capacity > this.maxBytes) return;
    this.remove(key);
    this.entries.set(key, { file, chunk: chunk.retain() });
    let keys = this.byFile.get(file);
    if (keys === undefined) this.byFile.set(file, (keys = new Set()));
    keys.add(key);
    this.size += chunk.capacity;
    while (this.size > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.remove(oldest);
    }
  }

  /** Drops every chunk of a file (a deleted one). */
  dropFile(file: string): void {
    const keys = this.byFile.get(file);
    if (keys === undefined) return;
    for (const k of [...keys]) this.remove(k);
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    const keys = this.byFile.get(entry.file);
    keys?.delete(key);
    if (keys?.size === 0) this.byFile.delete(entry.file);
    this.size -= entry.chunk.capacity;
    entry.chunk.release();
  }
}
