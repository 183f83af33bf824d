/**
 * What the service does to executors' local directories: list the map
 * output data files in them, delete the files that are not map outputs
 * (ExecutorRemoved), delete the directories themselves (ApplicationRemoved
 * with cleanup). Only the registered directories and the hex sub-directories
 * of the layout are touched; a directory already gone is not an error.
 * Before anything is deleted, each directory is checked against the
 * worker's roots again, where it really is now; one that fails is left alone.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { componentLogger } from '../log/index.js';
import { BraidError, ErrorCodes } from '../protocol/index.js';
import { isShuffleFile } from './file-resolver.js';
import type { LocalDirRoots } from './local-dir-roots.js';

/** The real locations of the directories that are inside the roots now; the others are logged and skipped. */
async function allowedNow(dirs: readonly string[], roots: LocalDirRoots): Promise<string[]> {
  const out: string[] = [];
  for (const dir of dirs) {
    try {
      out.push(await roots.check(dir));
    } catch (err) {
      componentLogger('ess').warn({ dir, err: (err as Error).message }, 'not deleting in a local directory that is no longer inside the allowed roots');
    }
  }
  return out;
}

const SUB_DIR = /^[0-9a-f]{2,}$/;

async function entries(dir: string): Promise<{ name: string; isDir: boolean; isFile: boolean }[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).map((e) => ({ name: e.name, isDir: e.isDirectory(), isFile: e.isFile() }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Every regular file in the layout's sub-directories of `localDirs`. */
async function layoutFiles(localDirs: readonly string[]): Promise<{ path: string; name: string }[]> {
  const out: { path: string; name: string }[] = [];
  for (const dir of localDirs) {
    for (const sub of await entries(dir)) {
      if (!sub.isDir || !SUB_DIR.test(sub.name)) continue;
      const subPath = join(dir, sub.name);
      for (const f of await entries(subPath)) if (f.isFile) out.push({ path: join(subPath, f.name), name: f.name });
    }
  }
  return out;
}

/** The map output data files under `localDirs`. */
export async function dataFilesIn(localDirs: readonly string[]): Promise<string[]> {
  return (await layoutFiles(localDirs)).filter((f) => f.name.endsWith('.data')).map((f) => f.path);
}

/** Deletes the files under `localDirs` that the service does not serve (spills, temporary blocks); returns how many. */
export async function deleteNonShuffleFiles(localDirs: readonly string[], roots: LocalDirRoots): Promise<number> {
  const doomed = (await layoutFiles(await allowedNow(localDirs, roots))).filter((f) => !isShuffleFile(f.name));
  await settleAll(doomed.map((f) => f.path), (p) => rm(p, { force: true }));
  return doomed.length;
}

/** Deletes each directory in `dirs` with everything in it. */
export async function deleteDirs(dirs: readonly string[], roots: LocalDirRoots): Promise<void> {
  await settleAll(await allowedNow(dirs, roots), (d) => rm(d, { recursive: true, force: true }));
}

async function settleAll(paths: readonly string[], op: (path: string) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(paths.map(op));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ path: paths[i]!, reason: r.reason as unknown }] : []));
  if (failed.length > 0) {
    throw new BraidError(ErrorCodes.WRITE_FAILED, `could not remove ${failed.map((f) => f.path).join(', ')}`, { retriable: false, cause: failed[0]!.reason });
  }
}
