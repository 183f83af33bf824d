/**
 * Appends batches to one partition file (one epoch of one partition, primary
 * or replica copy).
 *
 * `append` keeps the pushed Buffer as it arrived (a view of a socket read, no
 * copy) and counts it against the memory tracker; once `flushThreshold`
 * bytes are buffered they go to the disk's Flusher as one gathered write, and
 * their memory is released when that write completes. Positions are assigned
 * at flush time, so the file is exactly the concatenation of the appended
 * batches in append order.
 *
 * Chunk offsets are kept in memory: a chunk closes at the first batch
 * boundary at which it holds at least `chunkSize` bytes, so every chunk but
 * the last is >= chunkSize and no batch spans two chunks.
 *
 * An appended batch has been acknowledged to its pusher, so a failed write
 * never drops it. The writer keeps what failed in memory, stops taking
 * pushes (`degraded`: the worker answers HARD_SPLIT, so writers move to a
 * new epoch), and moves the file to another directory that has room
 * (`relocate`), where it writes the kept data again. Only when no directory
 * can take it by the time of the commit does the commit fail.
 *
 * Commit does not fsync by default. A committed shuffle file only has to
 * outlive the worker process, not the host: if the host dies its files are
 * unreachable anyway and the readers fall back to the replica or recompute
 * the stage. The page cache gives that, and an fsync per file would cost a
 * device flush on every commit. `fsyncOnCommit` is there for setups that want
 * files to survive a power loss together with the metadata store.
 */
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { locationFileName } from '../protocol/control/common.js';
import { BraidError, ErrorCodes, isBraidError } from '../protocol/errors.js';
import type { Mode } from '../protocol/types.js';
import type { DataDir } from './data-dirs.js';
import { DescriptorSlots, type SlotHolder } from './descriptor-slots.js';
import { shuffleDir } from './files.js';
import { NOOP_MEMORY, type MemoryTracker } from './memory.js';
import { FailedWrites, type FileLocation, type Relocate } from './relocation.js';

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
export const DEFAULT_FLUSH_THRESHOLD = 1024 * 1024;

export interface PartitionWriterOptions {
  dir: DataDir;
  appId: string;
  shuffleId: number;
  partitionId: number;
  epoch: number;
  mode: Mode;
  /** Minimum chunk size in bytes. Default 8 MiB. */
  chunkSize?: number;
  /** Buffered bytes that trigger a flush. Default 1 MiB. */
  flushThreshold?: number;
  memory?: MemoryTracker;
  /** fsync before close at commit. Default false (see the file comment). */
  fsyncOnCommit?: boolean;
  /** Truncate an existing file instead of failing with RESERVE_FAILED. Default false. */
  overwrite?: boolean;
  /** After a failed write, where the file may move (see relocation.ts). Default: nowhere, the data stays in memory. */
  relocate?: Relocate;
}

export interface CommittedFile {
  path: string;
  bytes: number;
  /** numChunks + 1 entries: first 0, last = bytes; [0] for an empty file. */
  chunkOffsets: number[];
  /** Sorted, unique. */
  mapIds: number[];
}

type State = 'open' | 'committing' | 'committed' | 'destroyed';

/**
 * At most this many writer files are open in the process (see
 * descriptor-slots.ts): a worker with tens of thousands of partitions stays
 * under the descriptor limit, even when all of them flush at commit.
 */
export const MAX_OPEN_WRITER_FILES = 4096;
const slots = new DescriptorSlots(MAX_OPEN_WRITER_FILES);

/** Changes the limit (tests, or a worker with a known descriptor budget). */
export function setMaxOpenWriterFiles(n: number): void {
  positive(n, 'maxOpenWriterFiles');
  slots.max = n;
}

/** Writer files open right now (for tests and status). */
export function openWriterFileCount(): number {
  return slots.inUse;
}

export class PartitionWriter implements SlotHolder {
  private where: FileLocation;
  readonly fileName: string;
  /** After a failed write: what it kept, and the move to another directory. */
  private readonly failed: FailedWrites;
  private fh: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private readonly memory: MemoryTracker;
  private readonly chunkSize: number;
  private readonly flushThreshold: number;
  private readonly fsyncOnCommit: boolean;

  private state: State = 'open';
  private failure: BraidError | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes handed to the flusher whose write has not completed. */
  private inFlightBytes = 0;
  private appended = 0;
  private flushedTo = 0;
  private batchCount = 0;
  private chunkStart = 0;
  private readonly chunkEnds: number[] = [];
  private readonly mapIdSet = new Set<number>();
  private lastMapId = -1;
  private lastWrite: Promise<void> = Promise.resolve();
  private closed = false;
  private commitResult: Promise<CommittedFile> | undefined;
  private destroying: Promise<void> | undefined;

  private constructor(opts: PartitionWriterOptions, path: string, fileName: string, fh: FileHandle | undefined) {
    this.where = { path, dir: opts.dir };
    this.fileName = fileName;
    this.failed = new FailedWrites(
      {
        location: () => this.where,
        pathOn: (dir) => join(shuffleDir(dir.path, opts.appId, opts.shuffleId), fileName),
        moveTo: async (to) => {
          await this.closeHandle();
          this.where = to;
        },
        handle: () => this.handle(),
        heldBytes: () => this.bytesBuffered,
        release: (buffers) => {
          for (const b of buffers) this.memory.release(b);
        },
        stopped: () => this.state === 'destroyed',
        settled: () => this.lastWrite,
      },
      opts.relocate,
    );
    this.fh = fh;
    this.memory = opts.memory ?? NOOP_MEMORY;
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.flushThreshold = opts.flushThreshold ?? DEFAULT_FLUSH_THRESHOLD;
    this.fsyncOnCommit = opts.fsyncOnCommit ?? false;
  }

  /**
   * Creates the file (and its shuffle directory). An existing file is
   * RESERVE_FAILED unless `overwrite`; any other failure is WRITE_FAILED and
   * marks the directory failed.
   */
  static async create(opts: PartitionWriterOptions): Promise<PartitionWriter> {
    positive(opts.chunkSize ?? DEFAULT_CHUNK_SIZE, 'chunkSize');
    positive(opts.flushThreshold ?? DEFAULT_FLUSH_THRESHOLD, 'flushThreshold');
    const fileName = locationFileName(opts.partitionId, opts.epoch, opts.mode);
    const path = join(shuffleDir(opts.dir.path, opts.appId, opts.shuffleId), fileName);
    let fh: FileHandle;
    await slots.acquire();
    try {
      await mkdir(dirname(path), { recursive: true });
      fh = await open(path, opts.overwrite === true ? 'w' : 'wx');
    } catch (err) {
      slots.release();
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new BraidError(ErrorCodes.RESERVE_FAILED, `${path} already exists`, { cause: err });
      }
      opts.dir.markFailed(err);
      throw new BraidError(ErrorCodes.WRITE_FAILED, `cannot create ${path}: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
    const writer = new PartitionWriter(opts, path, fileName, fh);
    slots.markIdle(writer);
    return writer;
  }

  /** The open file, opened again (with a slot) if it was closed for another writer. */
  private handle(): Promise<FileHandle> {
    slots.markBusy(this);
    if (this.fh !== undefined) return Promise.resolve(this.fh);
    this.opening ??= (async () => {
      await slots.acquire();
      try {
        this.fh = await open(this.path, 'r+');
        return this.fh;
      } catch (err) {
        slots.release(this);
        throw err;
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  /** After a write: with nothing more in flight, the file may be closed for another writer. */
  private maybeIdle(): void {
    if (this.pendingBytes === 0 && this.inFlightBytes === 0 && this.fh !== undefined && this.opening === undefined) slots.markIdle(this);
  }

  /** Called by the slots when this writer's file is idle and a slot is wanted. */
  evict(): void {
    const fh = this.fh;
    if (fh === undefined) return;
    this.fh = undefined;
    this.lastWrite = this.lastWrite.then(
      () => fh.close(),
      () => fh.close(),
    ).finally(() => slots.release(this));
  }

  /** Where the file is now (it moves to another directory after a failed write). */
  get path(): string {
    return this.where.path;
  }

  get dir(): DataDir {
    return this.where.dir;
  }

  /** A write failed: the file keeps what it was given but takes no more pushes. */
  get degraded(): boolean {
    return this.failed.error !== undefined;
  }

  /** Total bytes appended; the file's size once everything is flushed. */
  get bytesWritten(): number {
    return this.appended;
  }

  /** Bytes held in memory: appended and not yet written to disk. */
  get bytesBuffered(): number {
    return this.pendingBytes + this.inFlightBytes + this.failed.keptBytes;
  }

  get batches(): number {
    return this.batchCount;
  }

  get committed(): boolean {
    return this.state === 'committed';
  }

  /** The write failure that stopped this writer, if any. */
  get error(): BraidError | undefined {
    return this.failure;
  }

  /**
   * Takes ownership of `batch` (one whole batch, validated by the caller):
   * it must not be modified afterwards. Throws LOCATION_COMMITTED after
   * commit started, WRITE_FAILED after a failed write.
   */
  append(batch: Buffer): void {
    if (this.state === 'destroyed') throw new BraidError(ErrorCodes.UNKNOWN_LOCATION, `${this.path} was destroyed`);
    if (this.failure !== undefined) throw this.failure;
    if (this.state !== 'open') throw new BraidError(ErrorCodes.LOCATION_COMMITTED, `${this.path} is committed`);
    const mapId = batch.readUInt32BE(0);
    if (mapId !== this.lastMapId) {
      this.mapIdSet.add(mapId);
      this.lastMapId = mapId;
    }
    const n = batch.length;
    this.memory.acquire(batch);
    this.dir.noteBuffered(n);
    this.pending.push(batch);
    this.pendingBytes += n;
    this.appended += n;
    this.batchCount++;
    if (this.appended - this.chunkStart >= this.chunkSize) {
      this.chunkEnds.push(this.appended);
      this.chunkStart = this.appended;
    }
    if (this.pendingBytes >= this.flushThreshold) {
      // Failures are recorded in this.failure; append and commit report them.
      this.flush().catch(() => {});
    }
  }

  /**
   * Hands buffered batches to the flusher; resolves when everything appended
   * so far is on disk, or, after a failed write, kept in memory until a
   * directory takes it (the commit tells which).
   */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.failed.waiting) return this.failed.move().then(() => (this.failed.waiting || this.pendingBytes === 0 ? undefined : this.flush()));
    if (this.pendingBytes === 0) return this.lastWrite;
    const buffers = this.pending;
    const bytes = this.pendingBytes;
    const position = this.flushedTo;
    this.pending = [];
    this.pendingBytes = 0;
    this.flushedTo += bytes;
    this.inFlightBytes += bytes;
    const dir = this.dir;
    // The flusher completes a file's jobs in order, so the last one settling
    // means all earlier ones have. A failed write keeps its buffers: they were acknowledged.
    this.lastWrite = this.handle()
      .then((fh) => dir.flusher.write(fh, buffers, position))
      .then(
        () => {
          this.inFlightBytes -= bytes;
          dir.noteWritten(bytes);
          for (const b of buffers) this.memory.release(b);
          this.maybeIdle();
        },
        (err: unknown) => {
          this.inFlightBytes -= bytes;
          this.failed.keep({ position, buffers, bytes }, err);
        },
      );
    return this.lastWrite;
  }

  /** Closes the open file (to reopen it elsewhere); its slot is given back. */
  private async closeHandle(): Promise<void> {
    await this.opening?.catch(() => undefined);
    const fh = this.fh;
    this.fh = undefined;
    if (fh === undefined) return;
    try {
      await fh.close();
    } finally {
      slots.release(this);
    }
  }

  /**
   * Flushes, optionally fsyncs, closes and returns the file's description.
   * Idempotent: later calls return the first call's result.
   */
  commit(): Promise<CommittedFile> {
    if (this.state === 'destroyed') {
      return Promise.reject(new BraidError(ErrorCodes.UNKNOWN_LOCATION, `${this.path} was destroyed`));
    }
    this.commitResult ??= this.doCommit();
    return this.commitResult;
  }

  private async doCommit(): Promise<CommittedFile> {
    this.state = 'committing';
    await this.flush();
    // A write failed and no directory took its data yet: one more try (space may have come back), else it is lost.
    if (this.failed.waiting) await this.flush();
    if (this.failed.waiting) throw this.fail(this.failed.error);
    try {
      if (this.fsyncOnCommit) await (await this.handle()).sync();
      await this.close();
    } catch (err) {
      throw this.fail(err);
    }
    // destroy() may have run meanwhile; it wins.
    if (this.state === 'committing') this.state = 'committed';
    const chunkOffsets = [0, ...this.chunkEnds];
    if (chunkOffsets[chunkOffsets.length - 1] !== this.appended) chunkOffsets.push(this.appended);
    return {
      path: this.path,
      bytes: this.appended,
      chunkOffsets,
      mapIds: [...this.mapIdSet].sort((a, b) => a - b),
    };
  }

  /**
   * Drops buffered data (releasing its memory), waits for writes in flight,
   * closes and deletes the file. Safe in any state, idempotent.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    this.state = 'destroyed';
    // A move under way stops at its next step; what it did not write is dropped here.
    await this.failed.move();
    this.dropPending();
    await this.lastWrite.catch(() => {});
    await this.commitResult?.catch(() => {});
    await this.close().catch(() => {});
    await rm(this.path, { force: true });
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeHandle();
  }

  /** Gives up what is only in memory (destroyed, or lost for good). */
  private dropPending(): void {
    for (const b of this.pending) this.memory.release(b);
    this.dir.noteWritten(this.pendingBytes + this.failed.drop(), false);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private fail(err: unknown): BraidError {
    if (this.failure === undefined) {
      this.failure = isBraidError(err, ErrorCodes.WRITE_FAILED)
        ? err
        : new BraidError(ErrorCodes.WRITE_FAILED, `write to ${this.path} failed: ${(err as Error).message}`, {
            retriable: false,
            cause: err,
          });
      // A failed write already told its directory (full or failed).
      if (err !== this.failed.error) this.dir.markFailed(this.failure);
      this.dropPending();
    }
    return this.failure;
  }
}

function positive(v: number, name: string): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new BraidError(ErrorCodes.CONFIG, `partition writer option ${name} must be a positive integer, got ${v}`);
  }
}
