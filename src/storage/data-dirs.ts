/**
 * The worker's data directories, usually one per disk. Each has its own
 * Flusher, so one slow disk does not hold up the others.
 *
 * Free space comes from statfs at each refresh. Every byte a writer accepts
 * for a disk is subtracted at once, while it is still in memory
 * (`noteBuffered`): an accepted batch must find room on the disk when it is
 * flushed, so the reserve is checked against what will be written, not only
 * against what has been. Once written it counts as allocated until the next
 * statfs sees it (`noteWritten`). A directory is unhealthy when statfs or a
 * small probe write fails, or when a writer reported a failed write
 * (`markFailed`); a write that found the disk full makes it full until the
 * next refresh (`markFull`). A refresh whose statfs and probe (written and
 * fsynced, so it reaches the device) succeed makes the directory healthy
 * again.
 */
import { mkdir, open, rm, statfs } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { DiskInfo } from '../protocol/control/common.js';
import { BraidError, ErrorCodes } from '../protocol/errors.js';
import { Flusher, type FlusherOptions } from './flusher.js';

export interface DataDirsOptions {
  /** Free space each directory keeps; below it the directory takes no new files. */
  reserveBytes: number;
  flusher?: FlusherOptions;
}

const PROBE_FILE = '.braid-probe';

export class DataDir {
  readonly path: string;
  readonly flusher: Flusher;
  private isHealthy = true;
  private lastError: unknown = undefined;
  private total = 0;
  private freeAtRefresh = 0;
  private allocatedSinceRefresh = 0;
  /** Bytes accepted for this disk and not written yet. */
  private buffered = 0;

  constructor(path: string, flusherOptions: FlusherOptions = {}) {
    this.path = path;
    this.flusher = new Flusher({ ...flusherOptions, name: flusherOptions.name ?? path });
  }

  get healthy(): boolean {
    return this.isHealthy;
  }

  /** Why the directory was last marked unhealthy (undefined when healthy). */
  get error(): unknown {
    return this.lastError;
  }

  get totalBytes(): number {
    return this.total;
  }

  /** statfs free space minus what was written since and what is accepted but not written yet; never negative. */
  get freeBytes(): number {
    return Math.max(0, this.freeAtRefresh - this.allocatedSinceRefresh - this.buffered);
  }

  /** Called by writers for every byte they accept for this disk, before it is written. */
  noteBuffered(bytes: number): void {
    this.buffered += bytes;
  }

  /** Called by writers when accepted bytes were written (`written`), or will never be written here. */
  noteWritten(bytes: number, written = true): void {
    this.buffered = Math.max(0, this.buffered - bytes);
    if (written) this.allocatedSinceRefresh += bytes;
  }

  /** A write found no space: nothing more goes here until a refresh sees free space again. */
  markFull(): void {
    this.freeAtRefresh = 0;
    this.allocatedSinceRefresh = 0;
  }

  /** Takes the directory out of rotation until a refresh finds it working. */
  markFailed(cause?: unknown): void {
    this.isHealthy = false;
    this.lastError = cause ?? new Error('marked failed');
  }

  /** statfs + probe write; updates space and health. Never throws. */
  async refresh(): Promise<void> {
    // Writes that complete while statfs runs may or may not be in its answer: they stay counted (the safe side).
    const writtenBefore = this.allocatedSinceRefresh;
    try {
      const s = await statfs(this.path);
      await probe(this.path);
      this.total = s.blocks * s.bsize;
      this.freeAtRefresh = s.bavail * s.bsize;
      this.allocatedSinceRefresh = Math.max(0, this.allocatedSinceRefresh - writtenBefore);
      this.isHealthy = true;
      this.lastError = undefined;
    } catch (err) {
      this.markFailed(err);
    }
  }

  info(): DiskInfo {
    return { path: this.path, totalBytes: this.total, freeBytes: this.freeBytes, healthy: this.isHealthy };
  }
}

async function probe(dir: string): Promise<void> {
  const file = join(dir, PROBE_FILE);
  const fh = await open(file, 'w');
  try {
    await fh.write(Buffer.from('braid'), 0, 5, 0); // copy: five bytes, once per refresh
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rm(file, { force: true });
}

export class DataDirs {
  readonly reserveBytes: number;
  private readonly dirs: readonly DataDir[];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  private constructor(dirs: DataDir[], reserveBytes: number) {
    this.dirs = dirs;
    this.reserveBytes = reserveBytes;
  }

  /**
   * Creates missing directories and takes a first reading of each. A
   * directory that cannot be created or probed is kept, marked unhealthy.
   */
  static async open(paths: string[], opts: DataDirsOptions): Promise<DataDirs> {
    if (paths.length === 0) throw new BraidError(ErrorCodes.CONFIG, 'dataDirs: at least one directory is required');
    if (!Number.isFinite(opts.reserveBytes) || opts.reserveBytes < 0) {
      throw new BraidError(ErrorCodes.CONFIG, `dataDirs: reserveBytes must be a non-negative number, got ${opts.reserveBytes}`);
    }
    const unique = [...new Set(paths.map((p) => resolve(p)))];
    const dirs = unique.map((p) => new DataDir(p, opts.flusher));
    await Promise.all(
      dirs.map(async (d) => {
        try {
          await mkdir(d.path, { recursive: true });
        } catch (err) {
          d.markFailed(err);
        }
      }),
    );
    const result = new DataDirs(dirs, opts.reserveBytes);
    await result.refresh();
    return result;
  }

  get all(): readonly DataDir[] {
    return this.dirs;
  }

  /**
   * Round-robin over healthy directories with space above the reserve.
   * Throws DISK_FULL when there is none.
   */
  pick(): DataDir {
    const n = this.dirs.length;
    for (let i = 0; i < n; i++) {
      const d = this.dirs[(this.next + i) % n];
      if (d.healthy && !this.belowReserve(d)) {
        this.next = (this.next + i + 1) % n;
        return d;
      }
    }
    throw new BraidError(ErrorCodes.DISK_FULL, `no healthy data directory has more than ${this.reserveBytes} bytes free`);
  }

  /** True when the directory's free space is at or under the reserve: it takes no new files. */
  belowReserve(dir: DataDir): boolean {
    return dir.freeBytes - this.reserveBytes <= 0;
  }

  /** True when `bytes` more would take the directory below its reserve (or it is unhealthy): a push of them is refused. */
  wouldExceedReserve(dir: DataDir, bytes: number): boolean {
    return !dir.healthy || dir.freeBytes - bytes < this.reserveBytes;
  }

  /**
   * A healthy directory, not in `exclude`, that can take `bytes` and stay
   * above its reserve: where a file whose disk failed moves its data.
   */
  pickFor(bytes: number, exclude: ReadonlySet<DataDir>): DataDir | undefined {
    return this.dirs.find((d) => !exclude.has(d) && !this.wouldExceedReserve(d, bytes));
  }

  /** The directory holding `filePath`, if any. */
  find(filePath: string): DataDir | undefined {
    const abs = resolve(filePath);
    return this.dirs.find((d) => abs.startsWith(d.path + sep));
  }

  /** statfs and probe every directory; concurrent calls share one pass. */
  refresh(): Promise<void> {
    this.refreshing ??= Promise.all(this.dirs.map((d) => d.refresh())).then(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  status(): DiskInfo[] {
    return this.dirs.map((d) => d.info());
  }

  /** Refreshes every `intervalMs` until close(); the timer does not keep the process alive. */
  startRefresh(intervalMs: number): void {
    this.stopRefresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stopRefresh(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
