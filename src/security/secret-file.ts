/**
 * Secrets come from files (or the environment), never from a command line,
 * where every local user can read them in the process list.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { BraidError, ErrorCodes } from '../protocol/index.js';
import { componentLogger } from '../log/index.js';

/**
 * Reads a secret from `path`: the file's content without surrounding
 * whitespace (a trailing newline is the usual way such files end). An
 * unreadable or empty file is a BRAID_ERR_CONFIG naming `option` and the
 * path, never the content. A file others may read is worth a warning.
 */
export function readSecretFile(path: string, option: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BraidError(ErrorCodes.CONFIG, `${option} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      retriable: false,
      cause: err,
    });
  }
  const secret = text.trim();
  if (secret === '') throw new BraidError(ErrorCodes.CONFIG, `${option} ${path}: the file is empty`, { retriable: false });
  if ((statSync(path).mode & 0o077) !== 0) {
    componentLogger('security').warn({ file: path }, `${option}: the secret file can be read by other users than its owner; chmod 600 it`);
  }
  return secret;
}

/** A fresh random secret, for a cluster that lives and dies with one process (the CLI's embedded cluster). */
export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}
