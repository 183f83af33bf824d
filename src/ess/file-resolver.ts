/**
 * Where an executor's map outputs live, the layout Spark's disk block manager
 * uses, so the service finds files written by an unmodified executor:
 *
 *   h    = nonNegativeHash(fileName)            (Java String.hashCode, made non-negative)
 *   dir  = localDirs[h % localDirs.length]
 *   sub  = floor(h / localDirs.length) % subDirsPerLocalDir, as at least 2 lowercase hex digits
 *   path = <dir>/<sub>/<fileName>
 *
 * The reduce id in a map output's file names is always 0: one data file and
 * one index file hold every reduce partition of a map.
 */
import { join } from 'node:path';

/** Java's String.hashCode: s[0]·31^(n-1) + … + s[n-1] over UTF-16 code units, wrapping at 32 bits. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

const INT_MIN = -0x8000_0000;

/** |hash|, except that Integer.MIN_VALUE (whose absolute value does not fit an int) becomes 0. */
export function nonNegativeHash(s: string): number {
  const h = javaStringHash(s);
  return h === INT_MIN ? 0 : Math.abs(h);
}

export interface DirLayout {
  readonly localDirs: readonly string[];
  readonly subDirsPerLocalDir: number;
}

export function dataFileName(shuffleId: number, mapId: number): string {
  return `shuffle_${shuffleId}_${mapId}_0.data`;
}

export function indexFileName(shuffleId: number, mapId: number): string {
  return `shuffle_${shuffleId}_${mapId}_0.index`;
}

/** The sub-directory name of a hash: Java's "%02x". */
export function subDirName(hash: number, layout: DirLayout): string {
  const sub = Math.floor(hash / layout.localDirs.length) % layout.subDirsPerLocalDir;
  return sub.toString(16).padStart(2, '0');
}

/** The path of `fileName` under an executor's local directories. */
export function resolveFile(layout: DirLayout, fileName: string): string {
  const h = nonNegativeHash(fileName);
  const dir = layout.localDirs[h % layout.localDirs.length]!;
  return join(dir, subDirName(h, layout), fileName);
}

/** True for the files the service serves (map output data and index); other files are the executor's own. */
export function isShuffleFile(fileName: string): boolean {
  return fileName.endsWith('.data') || fileName.endsWith('.index');
}
