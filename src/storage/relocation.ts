/**
 * Moving a partition file to another data directory after a write to it
 * failed (the disk filled up, or failed). The bytes that reached the old
 * file before the failure are copied to the new one; what failed is still
 * in the writer's memory and is written again there. A write that failed
 * may have left part of its bytes behind it in the old file: only the
 * prefix before it is trusted.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, open, rm, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BraidError, ErrorCodes } from '../protocol/errors.js';

/** True when a failed write means "no space", not "broken disk". */
export function isNoSpace(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** Creates `to` holding the first `bytes` bytes of `from` (an empty file when 0). Removes `to` again if that fails. */
export async function copyPrefix(from: string, to: string, bytes: number): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    if (bytes === 0) await (await open(to, 'wx')).close();
    else {
      await copyFile(from, to, constants.COPYFILE_EXCL);
      await truncate(to, bytes);
    }
  } catch (err) {
    await rm(to, { force: true });
    throw new BraidError(ErrorCodes.WRITE_FAILED, `cannot move ${from} to ${to}: ${(err as Error).message}`, { retriable: false, cause: err });
  }
}
