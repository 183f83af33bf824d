/**
 * Where executors' local directories may be. The service deletes those
 * directories when an application is removed, so a registration names only
 * directories strictly inside one of the roots the worker is configured with
 * (`essLocalDirRoots`); with no roots the service refuses every
 * registration. A directory is judged by where it really is: every symlink
 * on its path is resolved (a directory that does not exist yet is judged by
 * its deepest existing ancestor), and it is judged again, the same way, just
 * before anything in it is deleted, so a symlink planted after the
 * registration cannot redirect a deletion.
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { BraidError, ErrorCodes } from '../protocol/index.js';

function notAllowed(message: string): BraidError {
  return new BraidError(ErrorCodes.PATH_NOT_ALLOWED, message, { retriable: false });
}

/** The real path of `path`: symlinks resolved, the missing tail kept as written. */
async function realLocation(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const parent = dirname(path);
    if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === path) throw err;
    return join(await realLocation(parent), basename(path));
  }
}

function strictlyInside(path: string, root: string): boolean {
  return path.startsWith(root.endsWith(sep) ? root : root + sep) && path.length > root.length + 1;
}

export class LocalDirRoots {
  private constructor(
    /** The roots as configured, for messages. */
    private readonly configured: readonly string[],
    /** Their real paths. */
    private readonly roots: readonly string[],
  ) {}

  /** Resolves each root; a root that does not exist or is not absolute is a configuration error. */
  static async open(roots: readonly string[]): Promise<LocalDirRoots> {
    const real: string[] = [];
    for (const root of roots) {
      if (!isAbsolute(root)) throw new BraidError(ErrorCodes.CONFIG, `worker option "essLocalDirRoots": "${root}" is not an absolute path`);
      try {
        real.push(await realpath(root));
      } catch (err) {
        throw new BraidError(ErrorCodes.CONFIG, `worker option "essLocalDirRoots": cannot use "${root}": ${(err as Error).message}`, { cause: err });
      }
    }
    return new LocalDirRoots(roots, real);
  }

  /** False when no root is configured: the external shuffle service takes no registration. */
  get enabled(): boolean {
    return this.roots.length > 0;
  }

  /**
   * The real location of `dir` (absolute and normalized, checked by the
   * caller) if it lies strictly inside a root; PATH_NOT_ALLOWED otherwise.
   */
  async check(dir: string): Promise<string> {
    if (!this.enabled) {
      throw notAllowed('the external shuffle service takes no executors on this worker: its option essLocalDirRoots names no directory');
    }
    let real: string;
    try {
      real = await realLocation(dir);
    } catch (err) {
      throw notAllowed(`local directory ${JSON.stringify(dir)} cannot be resolved: ${(err as Error).message}`);
    }
    if (!this.roots.some((root) => strictlyInside(real, root))) {
      const where = real === dir ? '' : ` (it resolves to ${JSON.stringify(real)})`;
      throw notAllowed(`local directory ${JSON.stringify(dir)}${where} is not inside one of the worker's essLocalDirRoots: ${this.configured.join(', ')}`);
    }
    return real;
  }
}
