/**
 * Sort-on-read for map-range reads (DESIGN.md section 5): the first read of
 * a map range sorts the committed file by mapId once, in a piscina worker
 * thread, and every later range read of that file uses the result.
 *
 * - Single flight: concurrent getSorted calls for one path share one sort.
 * - Cache: loaded indexes are kept (LRU, `maxCachedFiles`); a sorted file and
 *   index already on disk (an earlier process, or an evicted entry) are
 *   reused without sorting, if the index matches the committed size.
 * - A failed sort is not cached; the next call tries again.
 * - The pool's queue is bounded (`maxQueue`); beyond it calls fail with
 *   SERVER_BUSY (retriable) rather than queueing without limit.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { Piscina } from 'piscina';
import { BraidError, ErrorCodes } from '../../protocol/errors.js';
import type { SortTask, SortTaskResult } from './sort-task.js';
import { SortedFile } from './sorted-file.js';
import { decodeSortedIndex } from './sorted-index.js';
import { sortTaskFile } from './task-file.js';

export interface MapRangeSorterOptions {
  /** Sort threads. Default 1 (the machine has two cores, and sorting is mostly I/O). */
  maxThreads?: number;
  /** Sorts waiting for a thread before calls fail with SERVER_BUSY. Default 16. */
  maxQueue?: number;
  /** Per-thread work buffer; files up to this size sort in memory. Default 256 MiB. */
  memoryBytes?: number;
  /** Sorted files whose index stays loaded. Default 256. */
  maxCachedFiles?: number;
  /** Idle time after which a sort thread (and its buffer) goes away. Default 30 s. */
  idleTimeoutMs?: number;
  /** Overrides the worker entry file (see task-file.ts). */
  taskFile?: string;
}

export interface SortInput {
  path: string;
  bytes: number;
}

export function sortedPathOf(path: string): string {
  return `${path}.sorted`;
}

export function sortedIndexPathOf(path: string): string {
  return `${path}.sorted.index`;
}

export class MapRangeSorter {
  private readonly options: Required<Omit<MapRangeSorterOptions, 'taskFile'>> & { taskFile: string | undefined };
  private pool: Promise<Piscina<SortTask, SortTaskResult>> | undefined;
  private readonly cache = new Map<string, Promise<SortedFile>>();
  private sorts = 0;
  private closed = false;

  constructor(options: MapRangeSorterOptions = {}) {
    this.options = {
      maxThreads: positiveInt(options.maxThreads ?? 1, 'maxThreads'),
      maxQueue: nonNegativeInt(options.maxQueue ?? 16, 'maxQueue'),
      memoryBytes: positiveInt(options.memoryBytes ?? 256 * 1024 * 1024, 'memoryBytes'),
      maxCachedFiles: positiveInt(options.maxCachedFiles ?? 256, 'maxCachedFiles'),
      idleTimeoutMs: nonNegativeInt(options.idleTimeoutMs ?? 30_000, 'idleTimeoutMs'),
      taskFile: options.taskFile,
    };
  }

  /** Sorts started by this instance (not counting indexes reused from disk). */
  get sortsStarted(): number {
    return this.sorts;
  }

  /** The sorted view of a committed file, sorting it first if needed. Rejects with SORT_FAILED or SERVER_BUSY. */
  getSorted(file: SortInput): Promise<SortedFile> {
    if (this.closed) return Promise.reject(new BraidError(ErrorCodes.SHUTTING_DOWN, 'sorter is closed'));
    const cached = this.cache.get(file.path);
    if (cached !== undefined) {
      // Map order is the LRU order: move to the back.
      this.cache.delete(file.path);
      this.cache.set(file.path, cached);
      return cached;
    }
    const p = this.load(file);
    this.cache.set(file.path, p);
    p.catch(() => {
      if (this.cache.get(file.path) === p) this.cache.delete(file.path);
    });
    while (this.cache.size > this.options.maxCachedFiles) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    return p;
  }

  /** Drops a file's cached index and deletes its sorted copy (when the source file is deleted). */
  async forget(path: string): Promise<void> {
    const p = this.cache.get(path);
    this.cache.delete(path);
    await p?.catch(() => {});
    await rm(sortedIndexPathOf(path), { force: true });
    await rm(sortedPathOf(path), { force: true });
  }

  /** Drops cached indexes of files under `prefix` (a deleted shuffle or app directory); files are left to the caller. */
  forgetPrefix(prefix: string): void {
    for (const path of [...this.cache.keys()]) if (path.startsWith(prefix)) this.cache.delete(path);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    this.cache.clear();
    if (pool !== undefined) await (await pool).destroy();
  }

  private async load(file: SortInput): Promise<SortedFile> {
    const existing = await this.tryLoad(file);
    if (existing !== undefined) return existing;
    const task: SortTask = {
      path: file.path,
      bytes: file.bytes,
      sortedPath: sortedPathOf(file.path),
      indexPath: sortedIndexPathOf(file.path),
      memoryBytes: this.options.memoryBytes,
    };
    const pool = await this.getPool();
    this.sorts++;
    try {
      await pool.run(task);
    } catch (err) {
      const message = (err as Error).message;
      if (/queue is at limit/i.test(message)) {
        throw new BraidError(ErrorCodes.SERVER_BUSY, `too many sorts queued; retry ${file.path}`, { retriable: true, cause: err });
      }
      throw new BraidError(ErrorCodes.SORT_FAILED, `sorting ${file.path} failed: ${message}`, { retriable: false, cause: err });
    }
    const sorted = await this.tryLoad(file);
    if (sorted === undefined) throw new BraidError(ErrorCodes.SORT_FAILED, `sort of ${file.path} left no usable index`);
    return sorted;
  }

  /** Loads the on-disk index if it exists and matches the committed size; undefined otherwise. */
  private async tryLoad(file: SortInput): Promise<SortedFile | undefined> {
    const sortedPath = sortedPathOf(file.path);
    let buf: Buffer;
    try {
      buf = await readFile(sortedIndexPathOf(file.path));
      if ((await stat(sortedPath)).size !== file.bytes) return undefined;
    } catch {
      return undefined;
    }
    try {
      const index = decodeSortedIndex(buf);
      if (index.sourceBytes !== file.bytes) return undefined;
      return new SortedFile(file.path, sortedPath, index);
    } catch {
      // A damaged index is rebuilt by sorting again.
      return undefined;
    }
  }

  private getPool(): Promise<Piscina<SortTask, SortTaskResult>> {
    this.pool ??= (async () => {
      const filename = this.options.taskFile ?? (await sortTaskFile());
      return new Piscina<SortTask, SortTaskResult>({
        filename,
        minThreads: 0,
        maxThreads: this.options.maxThreads,
        maxQueue: this.options.maxQueue,
        idleTimeout: this.options.idleTimeoutMs,
      });
    })();
    return this.pool;
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new BraidError(ErrorCodes.CONFIG, `sorter option ${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegativeInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new BraidError(ErrorCodes.CONFIG, `sorter option ${name} must be a non-negative integer, got ${v}`);
  return v;
}
