/**
 * TeraSort's output directory. A directory that already holds files would
 * mix this run's part files with an earlier run's (one with more reduces
 * leaves its extra parts behind, and the directory no longer validates), so
 * it is refused, as Hadoop's TeraSort refuses an existing output. With
 * `--overwrite` the part files of an earlier run are removed first; anything
 * else in the directory is never deleted, and the run is refused instead.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BraidError, ErrorCodes } from '../protocol/index.js';

/** The name TeraSort gives reducer r's output: part-00000, part-00001, ... */
const PART_FILE = /^part-\d{5,}$/;

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    if (code === 'ENOTDIR') throw new BraidError(ErrorCodes.INPUT, `--output ${dir}: not a directory`, { cause: err });
    throw new BraidError(ErrorCodes.INPUT, `--output ${dir}: cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Checks (and with `overwrite`, empties of part files) the output directory before any work starts. */
export async function prepareOutputDir(dir: string, overwrite: boolean): Promise<void> {
  const names = await entries(dir);
  if (names.length === 0) return;
  if (!overwrite) {
    throw new BraidError(
      ErrorCodes.INPUT,
      `--output ${dir} is not empty (${names.length} entries, e.g. ${names.slice(0, 3).join(', ')}): choose an empty directory, or add --overwrite to replace the part files of an earlier run`,
    );
  }
  const others = names.filter((n) => !PART_FILE.test(n));
  if (others.length > 0) {
    throw new BraidError(
      ErrorCodes.INPUT,
      `--output ${dir} holds files TeraSort did not write (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}): --overwrite removes only part files, remove the others yourself`,
    );
  }
  await Promise.all(
    names.map((n) =>
      rm(join(dir, n), { force: true }).catch((err: unknown) => {
        throw new BraidError(ErrorCodes.INPUT, `--output ${dir}: cannot remove ${n}: ${(err as Error).message}`, { cause: err });
      }),
    ),
  );
}
