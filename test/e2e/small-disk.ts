/**
 * Small real filesystems for disk-full tests: a tmpfs of a given size
 * mounted on a fresh directory (this needs root, as CI has), unmounted and
 * removed after the test, also when it fails. Servers writing to it must be
 * stopped first: register the mount before starting them, as cleanups run
 * last-registered first.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cluster.js';

/** Whether this process may mount (root); tests that need a small disk are skipped otherwise. */
export const canMount = process.getuid?.() === 0;

/** Mounts a tmpfs of `size` (e.g. '32m') on a new directory and returns its path. */
export async function smallDisk(size: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `braid-small-disk-${process.pid}-`));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  onCleanup(async () => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      // A process that still holds a file there: detach now, the kernel frees it when they are gone.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Bytes free on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Fills the filesystem holding `dir` until it has no space left, with a file named `name`. */
export function fill(dir: string, name = 'filler'): void {
  const fd = openSync(join(dir, name), 'w');
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  try {
    for (let n = block.length; n > 0; ) {
      try {
        n = writeSync(fd, block, 0, n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        n = n >> 1; // the last blocks only fit in smaller pieces
      }
    }
  } finally {
    closeSync(fd);
  }
}
