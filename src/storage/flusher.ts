/**
 * One flusher per disk. Writers hand it the Buffers they hold (views of
 * socket reads, never copied) with the file position they belong at; the
 * flusher writes them with `FileHandle.writev`, one gathered call per
 * contiguous run, so a thread-pool hop pays for a megabyte or more rather than
 * one batch (MACHINE.md: a hop costs 30-65 us).
 *
 * Invariants:
 * - Per file, jobs complete in submission order: a file has at most one
 *   writev in flight, and queued contiguous jobs are merged into the next one.
 * - Across files, at most `concurrency` writes are in flight, so one disk is
 *   kept busy without flooding the libuv pool (which DNS, crypto and reads
 *   share). Files waiting for a slot are served first come, first served.
 * - After a write to a file fails, every job of that file queued behind it
 *   fails too: writing later positions would leave a hole in the file.
 */
import type { FileHandle } from 'node:fs/promises';
import { BraidError, ErrorCodes } from '../protocol/errors.js';

export interface FlusherOptions {
  /** Files written at once on this disk. Default 4. */
  concurrency?: number;
  /** Upper bound of one merged writev, in bytes. Default 8 MiB. */
  maxBytesPerCall?: number;
  /** Used in error messages (usually the disk's path). */
  name?: string;
}

const DEFAULTS = { concurrency: 4, maxBytesPerCall: 8 * 1024 * 1024 } as const;

interface WriteJob {
  buffers: Buffer[];
  position: number;
  bytes: number;
  resolve: () => void;
  reject: (err: BraidError) => void;
}

interface FileQueue {
  fh: FileHandle;
  jobs: WriteJob[];
  busy: boolean;
  waiting: boolean;
  failure: BraidError | undefined;
}

export class Flusher {
  readonly name: string;
  private readonly concurrency: number;
  private readonly maxBytesPerCall: number;
  // Weak so a failed file's state lives exactly as long as its handle.
  private readonly files = new WeakMap<FileHandle, FileQueue>();
  private readonly ready: FileQueue[] = [];
  private running = 0;
  private queued = 0;
  private calls = 0;
  private written = 0;

  constructor(options: FlusherOptions = {}) {
    this.concurrency = positiveInt(options.concurrency ?? DEFAULTS.concurrency, 'concurrency');
    this.maxBytesPerCall = positiveInt(options.maxBytesPerCall ?? DEFAULTS.maxBytesPerCall, 'maxBytesPerCall');
    this.name = options.name ?? 'flusher';
  }

  /** Bytes submitted and not yet written. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** writev calls issued so far (merged jobs count once). */
  get writeCalls(): number {
    return this.calls;
  }

  get bytesWritten(): number {
    return this.written;
  }

  /**
   * Writes `buffers` back to back starting at `position` of `fh`. The
   * buffers must not change until the promise settles. Rejects with
   * WRITE_FAILED.
   */
  write(fh: FileHandle, buffers: Buffer[], position: number): Promise<void> {
    let q = this.files.get(fh);
    if (q === undefined) {
      q = { fh, jobs: [], busy: false, waiting: false, failure: undefined };
      this.files.set(fh, q);
    }
    if (q.failure !== undefined) return Promise.reject(q.failure);
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    if (bytes === 0) return Promise.resolve();
    const queue = q;
    return new Promise<void>((resolve, reject) => {
      queue.jobs.push({ buffers, position, bytes, resolve, reject });
      this.queued += bytes;
      if (!queue.busy && !queue.waiting) {
        queue.waiting = true;
        this.ready.push(queue);
      }
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.ready.length > 0) {
      const q = this.ready.shift()!;
      q.waiting = false;
      this.running++;
      q.busy = true;
      void this.runOne(q);
    }
  }

  private async runOne(q: FileQueue): Promise<void> {
    // Take the head job and every queued job that continues it on disk.
    const first = q.jobs[0];
    let taken = 1;
    let total = first.bytes;
    let end = first.position + first.bytes;
    while (taken < q.jobs.length) {
      const next = q.jobs[taken];
      if (next.position !== end || total + next.bytes > this.maxBytesPerCall) break;
      total += next.bytes;
      end += next.bytes;
      taken++;
    }
    const jobs = q.jobs.splice(0, taken);
    const iov = jobs.length === 1 ? first.buffers : jobs.flatMap((j) => j.buffers);
    try {
      await writeFully(q.fh, iov, first.position, total);
      this.calls++;
      this.written += total;
      this.queued -= total;
      for (const j of jobs) j.resolve();
    } catch (err) {
      const failure = new BraidError(
        ErrorCodes.WRITE_FAILED,
        `${this.name}: write of ${total} bytes at ${first.position} failed: ${(err as Error).message}`,
        { retriable: false, cause: err },
      );
      q.failure = failure;
      const dropped = jobs.concat(q.jobs.splice(0));
      for (const j of dropped) {
        this.queued -= j.bytes;
        j.reject(failure);
      }
    } finally {
      q.busy = false;
      this.running--;
      if (q.jobs.length > 0) {
        q.waiting = true;
        this.ready.push(q);
      }
      this.pump();
    }
  }
}

/** writev until every byte is written; libuv already loops, this guards the rest. */
async function writeFully(fh: FileHandle, buffers: Buffer[], position: number, total: number): Promise<void> {
  let done = 0;
  let iov = buffers;
  for (;;) {
    const { bytesWritten } = await fh.writev(iov, position + done);
    done += bytesWritten;
    if (done >= total) return;
    if (bytesWritten === 0) throw new Error(`writev made no progress at ${position + done}`);
    iov = skipBytes(iov, bytesWritten);
  }
}

function skipBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < buffers.length && buffers[i].length <= left) {
    left -= buffers[i].length;
    i++;
  }
  const rest = buffers.slice(i); // copy of the references, not the bytes
  if (left > 0 && rest.length > 0) rest[0] = rest[0].subarray(left);
  return rest;
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) {
    throw new BraidError(ErrorCodes.CONFIG, `flusher option ${name} must be a positive integer, got ${v}`);
  }
  return v;
}
