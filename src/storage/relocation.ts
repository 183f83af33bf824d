/**
 * What a partition writer does after a write to its file failed (the disk
 * filled up behind the worker's back, or failed). Every batch it held was
 * acknowledged to its pusher, so none is dropped: the failed writes' buffers
 * stay in memory, and the file moves to another data directory that has
 * room. There the bytes that reached the old file before the failure are
 * copied (a write that failed may have left part of its bytes behind it: only
 * the prefix before it is trusted), and the kept buffers are written again
 * at their positions. If that directory fails too, the next one is tried;
 * with none, the data waits in memory for the next try (the commit's).
 */
import { constants, type PathLike } from 'node:fs';
import { copyFile, mkdir, open, rm, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { componentLogger } from '../log/index.js';
import { BraidError, ErrorCodes, isBraidError } from '../protocol/errors.js';
import type { DataDir } from './data-dirs.js';

/** Where a partition file is. */
export interface FileLocation {
  path: string;
  dir: DataDir;
}

/** Bytes a write failed to put on disk, kept to be written again elsewhere. */
export interface KeptWrite {
  position: number;
  buffers: Buffer[];
  bytes: number;
}

/** Another directory that can take `bytes`, not one of `tried`; none: keep the data in memory for now. */
export type Relocate = (bytes: number, tried: ReadonlySet<DataDir>) => DataDir | undefined;

/** What the mover needs from its writer. */
export interface FileHost {
  location(): FileLocation;
  /** The file's path on `dir`. */
  pathOn(dir: DataDir): string;
  /** Switches the writer to `to`: its open handle is closed first, the next write opens the new path. */
  moveTo(to: FileLocation): Promise<void>;
  /** The writer's open handle, opened again if needed. */
  handle(): Promise<FileHandle>;
  /** Every byte the writer holds in memory, kept writes included. */
  heldBytes(): number;
  /** The buffers are on disk (or given up): their memory goes back. */
  release(buffers: Buffer[]): void;
  /** The writer was destroyed: stop. */
  stopped(): boolean;
  /** Settles once every write handed to the old file has settled (they fail together). */
  settled(): Promise<void>;
}

/** True when a failed write means "no space", not "broken disk". */
export function isNoSpace(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

function markBad(dir: DataDir, err: unknown): void {
  if (isNoSpace(err)) dir.markFull();
  else dir.markFailed(err);
}

/** Creates `to` holding the first `bytes` bytes of `from` (an empty file when 0). Removes `to` again if that fails. */
async function copyPrefix(from: PathLike, to: string, bytes: number): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    if (bytes === 0) await (await open(to, 'wx')).close();
    else {
      await copyFile(from, to, constants.COPYFILE_EXCL);
      await truncate(to, bytes);
    }
  } catch (err) {
    await rm(to, { force: true });
    throw err;
  }
}

export class FailedWrites {
  /** The first write that failed; from then on the file takes no pushes. */
  error: BraidError | undefined;
  private kept: KeptWrite[] = [];
  private moving: Promise<void> | undefined;

  constructor(
    private readonly host: FileHost,
    private readonly relocate: Relocate | undefined,
  ) {}

  /** Kept writes are waiting for a directory, or a move is under way. */
  get waiting(): boolean {
    return this.kept.length > 0 || this.moving !== undefined;
  }

  get keptBytes(): number {
    let n = 0;
    for (const k of this.kept) n += k.bytes;
    return n;
  }

  /** A write failed: keep its buffers and, the first time, give up on the directory and start moving. */
  keep(write: KeptWrite, err: unknown): void {
    this.kept.push(write);
    if (this.error !== undefined) return;
    const { path, dir } = this.host.location();
    this.error = isBraidError(err, ErrorCodes.WRITE_FAILED)
      ? err
      : new BraidError(ErrorCodes.WRITE_FAILED, `write to ${path} failed: ${(err as Error).message}`, { retriable: false, cause: err });
    markBad(dir, err);
    componentLogger('storage').warn({ file: path, err: this.error.message }, 'write failed: keeping the data in memory and moving the file to another directory');
    void this.move();
  }

  /** Moves the file to a directory that can take what it holds; concurrent calls share one try. Never rejects. */
  move(): Promise<void> {
    this.moving ??= this.moveToRoom().finally(() => {
      this.moving = undefined;
    });
    return this.moving;
  }

  /** Gives every kept write up (destroyed, or lost for good); returns their bytes. */
  drop(): number {
    const bytes = this.keptBytes;
    for (const k of this.kept) this.host.release(k.buffers);
    this.kept = [];
    return bytes;
  }

  private async moveToRoom(): Promise<void> {
    await this.host.settled();
    const tried = new Set<DataDir>([this.host.location().dir]);
    while (this.kept.length > 0 && !this.host.stopped()) {
      const bytes = this.host.heldBytes();
      const to = this.relocate?.(bytes, tried);
      if (to === undefined) return; // kept in memory; the next try (the commit's) may find room
      tried.add(to);
      try {
        await this.moveTo(to, bytes);
      } catch (err) {
        markBad(to, err);
      }
    }
  }

  /** Copies the trusted prefix of the file to `to` and writes the kept buffers after it; throws if `to` fails too. */
  private async moveTo(to: DataDir, bytes: number): Promise<void> {
    const from = this.host.location();
    const path = this.host.pathOn(to);
    await copyPrefix(from.path, path, this.kept[0]!.position);
    await this.host.moveTo({ path, dir: to });
    from.dir.noteWritten(bytes, false);
    to.noteBuffered(bytes);
    // The old copy is no longer the file; a disk too broken to delete it must not fail the move.
    await rm(from.path, { force: true }).catch(() => undefined);
    componentLogger('storage').warn({ from: from.path, to: path, bytes }, 'moved a partition file after a failed write');
    while (this.kept.length > 0 && !this.host.stopped()) {
      const k = this.kept[0]!;
      await to.flusher.write(await this.host.handle(), k.buffers, k.position);
      this.kept.shift();
      to.noteWritten(k.bytes);
      this.host.release(k.buffers);
    }
  }
}
