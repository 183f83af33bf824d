/**
 * A byte-bounded LRU of recently read chunks, keyed by file and offset. A Map
 * keeps insertion order, so re-inserting on hit makes the first key the least
 * recently used.
 */
export class ChunkCache {
  private readonly entries = new Map<string, Buffer>();
  private size = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  get(key: string): Buffer | undefined {
    const buf = this.entries.get(key);
    if (buf === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, buf);
    return buf;
  }

  set(key: string, buf: Buffer): void {
    if (buf.length > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.size -= old.length;
      this.entries.delete(key);
    }
    this.entries.set(key, buf);
    this.size += buf.length;
    while (this.size > this.maxBytes) {
      const [k, v] = this.entries.entries().next().value as [string, Buffer];
      this.entries.delete(k);
      this.size -= v.length;
    }
  }

  /** Drops every chunk of files whose path starts with `prefix` (a deleted shuffle). */
  dropPrefix(prefix: string): void {
    for (const [k, v] of this.entries) {
      if (k.startsWith(prefix)) {
        this.entries.delete(k);
        this.size -= v.length;
      }
    }
  }
}
