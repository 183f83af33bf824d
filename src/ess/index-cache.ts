/**
 * Map output index files, cached. An index is numPartitions + 1 big-endian
 * u64 offsets into the map's data file; reduce partition r is bytes
 * [offset[r], offset[r+1]). A loaded index is checked once: it starts at 0,
 * never goes backwards, and ends exactly at the data file's size (anything
 * else is a torn or foreign file, whose blocks would be garbage).
 *
 * The cache is an LRU bounded in bytes (the index bytes plus the two paths
 * it keys and points to). A Map keeps insertion order, so re-inserting on a
 * hit keeps the least recently used entry first. Concurrent loads of one
 * index share one read. Map outputs are written once and never rewritten
 * (the first attempt of a map to commit wins), so entries are not revalidated.
 */
import { open, stat } from 'node:fs/promises';
import { BraidError, ErrorCodes } from '../protocol/index.js';

/** Indexes of more partitions than this are refused (the same bound as arrays on the wire). */
const MAX_PARTITIONS = 1 << 24;

export class ShuffleIndex {
  constructor(
    readonly indexPath: string,
    readonly dataPath: string,
    private readonly offsets: Buffer,
  ) {}

  get numPartitions(): number {
    return this.offsets.length / 8 - 1;
  }

  /** Bytes this entry costs the cache. */
  get weight(): number {
    return indexEntryWeight(this.indexPath, this.dataPath, this.offsets.length);
  }

  /** The byte range of reduce partition `reduceId` in the data file. */
  range(reduceId: number): { offset: number; length: number } {
    if (!Number.isInteger(reduceId) || reduceId < 0 || reduceId >= this.numPartitions) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `reduce partition ${reduceId} is not in 0..${this.numPartitions - 1} of ${this.indexPath}`);
    }
    const offset = Number(this.offsets.readBigUInt64BE(reduceId * 8));
    return { offset, length: Number(this.offsets.readBigUInt64BE(reduceId * 8 + 8)) - offset };
  }
}

/** What one cached index costs: its bytes, plus its two paths as UTF-16 strings. */
export function indexEntryWeight(indexPath: string, dataPath: string, indexBytes: number): number {
  return indexBytes + 2 * (indexPath.length + dataPath.length);
}

function missing(path: string, what: string, cause: unknown): BraidError {
  return new BraidError(ErrorCodes.UNKNOWN_FILE, `no ${what} file ${path}`, { retriable: false, cause });
}

function corrupt(path: string, message: string): BraidError {
  return new BraidError(ErrorCodes.DATA_LOST, `index file ${path} ${message}`, { retriable: false });
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR';
}

/** Reads and checks an index file against its data file. */
export async function loadIndex(indexPath: string, dataPath: string): Promise<ShuffleIndex> {
  let offsets: Buffer;
  try {
    const fh = await open(indexPath, 'r');
    try {
      const { size } = await fh.stat();
      if (size % 8 !== 0 || size < 8 || size > 8 * (MAX_PARTITIONS + 1)) throw corrupt(indexPath, `has ${size} bytes, not 8 × (partitions + 1)`);
      offsets = Buffer.allocUnsafeSlow(size);
      for (let done = 0; done < size; ) {
        const { bytesRead } = await fh.read(offsets, done, size - done, done);
        if (bytesRead === 0) throw corrupt(indexPath, `ended after ${done} of ${size} bytes`);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof BraidError) throw err;
    if (isNotFound(err)) throw missing(indexPath, 'index', err);
    throw new BraidError(ErrorCodes.READ_FAILED, `reading index file ${indexPath} failed: ${(err as Error).message}`, { cause: err });
  }
  let previous = 0n;
  for (let i = 0; i < offsets.length; i += 8) {
    const v = offsets.readBigUInt64BE(i);
    if (i === 0 ? v !== 0n : v < previous) throw corrupt(indexPath, `has offset ${v} at entry ${i / 8} after ${previous}`);
    previous = v;
  }
  if (previous > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(indexPath, `ends at ${previous}, past 2^53`);
  let dataBytes: number;
  try {
    dataBytes = (await stat(dataPath)).size;
  } catch (err) {
    if (isNotFound(err)) throw missing(dataPath, 'data', err);
    throw new BraidError(ErrorCodes.READ_FAILED, `stat of data file ${dataPath} failed: ${(err as Error).message}`, { cause: err });
  }
  if (BigInt(dataBytes) !== previous) throw corrupt(indexPath, `ends at ${previous} but ${dataPath} has ${dataBytes} bytes`);
  return new ShuffleIndex(indexPath, dataPath, offsets);
}

export class IndexCache {
  private readonly entries = new Map<string, ShuffleIndex>();
  private readonly loading = new Map<string, Promise<ShuffleIndex>>();
  /** Bumped by drops: a load that began before a drop does not enter the cache. */
  private generation = 0;
  private size = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  get count(): number {
    return this.entries.size;
  }

  /** The index of a map output, from the cache or the disk. */
  get(indexPath: string, dataPath: string): Promise<ShuffleIndex> {
    const cached = this.entries.get(indexPath);
    if (cached !== undefined) {
      this.hits++;
      this.entries.delete(indexPath);
      this.entries.set(indexPath, cached);
      return Promise.resolve(cached);
    }
    this.misses++;
    let pending = this.loading.get(indexPath);
    if (pending === undefined) {
      const generation = this.generation;
      pending = loadIndex(indexPath, dataPath).finally(() => this.loading.delete(indexPath));
      this.loading.set(indexPath, pending);
      pending.then((index) => generation === this.generation && this.insert(index), () => undefined);
    }
    return pending;
  }

  /** Forgets the indexes of files under `prefix` (directories being deleted or unregistered). */
  dropPrefix(prefix: string): void {
    this.generation++;
    for (const [path, index] of [...this.entries]) {
      if (!path.startsWith(prefix)) continue;
      this.entries.delete(path);
      this.size -= index.weight;
    }
  }

  private insert(index: ShuffleIndex): void {
    const weight = index.weight;
    if (weight > this.maxBytes || this.entries.has(index.indexPath)) return;
    this.entries.set(index.indexPath, index);
    this.size += weight;
    while (this.size > this.maxBytes) {
      const [oldestPath, oldest] = this.entries.entries().next().value as [string, ShuffleIndex];
      this.entries.delete(oldestPath);
      this.size -= oldest.weight;
      this.evictions++;
    }
  }
}
