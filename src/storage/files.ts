/**
 * Where a shuffle's files live and how they are removed:
 *
 *   <dataDir>/<appId>/<shuffleId>/<partitionId>-<epoch>-<primary|replica>
 *   <dataDir>/<appId>/<shuffleId>/<...>.sorted, <...>.sorted.index   (map-range sort)
 *
 * appId comes off the wire, so it is checked before it becomes a path: one
 * application must never be able to name another's directory (or the
 * metadata store, which lives in a dot-directory of the first data dir).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BraidError, ErrorCodes } from '../protocol/errors.js';
import type { DataDirs } from './data-dirs.js';

/** Throws INVALID_REQUEST unless `name` is safe as one path component. */
export function checkPathSegment(name: string, what: string): string {
  // A leading dot rules out '.', '..' and our own dot-directories.
  if (name.length === 0 || name.length > 255 || name.startsWith('.') || /[/\\\0]/.test(name)) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `${what} ${JSON.stringify(name)} is not a valid path component`);
  }
  return name;
}

function checkShuffleId(shuffleId: number): number {
  if (!Number.isInteger(shuffleId) || shuffleId < 0) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `shuffleId ${shuffleId} is not a non-negative integer`);
  }
  return shuffleId;
}

export function appDir(root: string, appId: string): string {
  return join(root, checkPathSegment(appId, 'appId'));
}

export function shuffleDir(root: string, appId: string, shuffleId: number): string {
  return join(appDir(root, appId), String(checkShuffleId(shuffleId)));
}

/** Removes one shuffle's directory on every data dir (healthy or not). */
export async function deleteShuffle(dataDirs: DataDirs, appId: string, shuffleId: number): Promise<void> {
  await removeEverywhere(dataDirs, (root) => shuffleDir(root, appId, shuffleId));
}

/** Removes everything an application left on every data dir. */
export async function deleteApp(dataDirs: DataDirs, appId: string): Promise<void> {
  await removeEverywhere(dataDirs, (root) => appDir(root, appId));
}

async function removeEverywhere(dataDirs: DataDirs, target: (root: string) => string): Promise<void> {
  // Paths are computed (and validated) before anything is removed.
  const paths = dataDirs.all.map((d) => target(d.path));
  const results = await Promise.allSettled(paths.map((p) => rm(p, { recursive: true, force: true })));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ path: paths[i], reason: r.reason as unknown }] : []));
  if (failed.length > 0) {
    throw new BraidError(ErrorCodes.WRITE_FAILED, `could not remove ${failed.map((f) => f.path).join(', ')}`, {
      retriable: false,
      cause: failed[0].reason,
    });
  }
}
