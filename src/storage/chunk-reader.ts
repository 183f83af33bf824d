/**
 * Reads chunks of committed files for FetchChunk. Each read returns a
 * freshly allocated Buffer of exactly the asked length (the stream manager
 * may cache it, so it must not share memory with anything reused).
 *
 * `readRange` opens and closes the file per call. `ChunkReader` keeps a small
 * LRU of open FileHandles so a stream of fetches on one file skips the
 * open/close thread hops; a handle is closed only when no read uses it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BraidError, ErrorCodes } from '../protocol/errors.js';

export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  checkRange(path, offset, length);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw readFailed(path, offset, length, err);
  }
  try {
    return await readInto(fh, path, offset, length);
  } finally {
    await fh.close().catch(() => {});
  }
}

interface OpenFile {
  fh: Promise<FileHandle>;
  users: number;
  evicted: boolean;
}

export class ChunkReader {
  private readonly maxOpen: number;
  private readonly files = new Map<string, OpenFile>();

  constructor(options: { maxOpenFiles?: number } = {}) {
    this.maxOpen = options.maxOpenFiles ?? 64;
    if (!Number.isInteger(this.maxOpen) || this.maxOpen <= 0) {
      throw new BraidError(ErrorCodes.CONFIG, `chunk reader option maxOpenFiles must be a positive integer, got ${this.maxOpen}`);
    }
  }

  get openFiles(): number {
    return this.files.size;
  }

  /**
   * Reads `length` bytes at `offset`, into `target` when given (its first
   * `length` bytes; a caller that recycles buffers passes one), else into new memory.
   */
  async readRange(path: string, offset: number, length: number, target?: Buffer): Promise<Buffer> {
    checkRange(path, offset, length);
    if (target !== undefined && target.length < length) throw new BraidError(ErrorCodes.INTERNAL, `read target of ${target.length} bytes for ${length}`);
    const entry = this.acquire(path);
    try {
      let fh: FileHandle;
      try {
        fh = await entry.fh;
      } catch (err) {
        throw readFailed(path, offset, length, err);
      }
      return await readInto(fh, path, offset, length, target);
    } finally {
      this.releaseEntry(entry);
    }
  }

  /** Closes the handle of a file about to be deleted (after its readers finish). */
  forget(path: string): void {
    const entry = this.files.get(path);
    if (entry === undefined) return;
    this.files.delete(path);
    this.evict(entry);
  }

  async close(): Promise<void> {
    const entries = [...this.files.values()];
    this.files.clear();
    for (const e of entries) this.evict(e);
    await Promise.all(entries.map((e) => e.fh.then((fh) => fh.close()).catch(() => {})));
  }

  private acquire(path: string): OpenFile {
    let entry = this.files.get(path);
    if (entry !== undefined) {
      this.files.delete(path); // re-insert: most recently used last
    } else {
      entry = { fh: open(path, 'r'), users: 0, evicted: false };
      // A failed open is not kept: the next read tries again.
      const created = entry;
      created.fh.catch(() => {
        if (this.files.get(path) === created) this.files.delete(path);
      });
    }
    this.files.set(path, entry);
    entry.users++;
    while (this.files.size > this.maxOpen) {
      const [oldestPath, oldest] = this.files.entries().next().value as [string, OpenFile];
      this.files.delete(oldestPath);
      this.evict(oldest);
    }
    return entry;
  }

  private releaseEntry(entry: OpenFile): void {
    entry.users--;
    if (entry.evicted && entry.users === 0) closeQuietly(entry);
  }

  private evict(entry: OpenFile): void {
    entry.evicted = true;
    if (entry.users === 0) closeQuietly(entry);
  }
}

function closeQuietly(entry: OpenFile): void {
  entry.fh.then((fh) => fh.close()).catch(() => {});
}

async function readInto(fh: FileHandle, path: string, offset: number, length: number, target?: Buffer): Promise<Buffer> {
  // Its own memory, not a slice of Node's shared pool: chunks may sit in a cache.
  const buf = target === undefined ? Buffer.allocUnsafeSlow(length) : target.subarray(0, length);
  let done = 0;
  try {
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`end of file after ${done} bytes`);
      done += bytesRead;
    }
  } catch (err) {
    throw readFailed(path, offset, length, err);
  }
  return buf;
}

function checkRange(path: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `bad read range ${offset}+${length} of ${path}`);
  }
}

function readFailed(path: string, offset: number, length: number, err: unknown): BraidError {
  return new BraidError(ErrorCodes.READ_FAILED, `reading ${length} bytes at ${offset} of ${path} failed: ${(err as Error).message}`, {
    cause: err,
  });
}
