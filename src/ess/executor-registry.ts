/**
 * Executors registered with the external shuffle service, in memory and in
 * an embedded LevelDB store (classic-level) so that a restarted worker keeps
 * serving the map outputs of executors that registered before:
 *
 *   key   := appId NUL execId
 *   value := ExecutorShuffleInfo as JSON
 *
 * appId and execId never contain NUL, so an application's entries sort
 * between "<appId>\0" and "<appId>\x01": removing an application is one
 * range delete. Changes are applied one at a time, store first, so an
 * acknowledged registration is durable and a removal cannot interleave
 * with a registration of the same application.
 */
import { isAbsolute, normalize, parse, resolve, sep } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { componentLogger } from '../log/index.js';
import { BraidError, ErrorCodes } from '../protocol/index.js';
import type { LocalDirRoots } from './local-dir-roots.js';

export interface ExecutorShuffleInfo {
  readonly localDirs: readonly string[];
  readonly subDirsPerLocalDir: number;
  readonly shuffleManager: string;
}

/** The shuffle managers whose on-disk layout the service understands (the sort-based one). */
export const ACCEPTED_SHUFFLE_MANAGERS: ReadonlySet<string> = new Set(['sort', 'org.apache.spark.shuffle.sort.SortShuffleManager']);

const SEP = '\u0000';
const END = '\u0001';
const MAX_LOCAL_DIRS = 1024;
const MAX_SUBDIRS = 1 << 16;
const MAX_ID_LENGTH = 1024;

function invalid(message: string): BraidError {
  return new BraidError(ErrorCodes.INVALID_REQUEST, message);
}

function checkId(value: string, what: string): string {
  if (value.length === 0 || value.length > MAX_ID_LENGTH || value.includes(SEP)) throw invalid(`${what} ${JSON.stringify(value.substring(0, 100))} is empty, too long or has a NUL`);
  return value;
}

/** True when one of the two paths is the other or lies inside it. */
function overlaps(a: string, b: string): boolean {
  const within = (x: string, y: string) => x === y || x.startsWith(y.endsWith(sep) ? y : y + sep);
  return within(a, b) || within(b, a);
}

/**
 * Checks a registration before anything trusts it. Local directories may be
 * deleted on ApplicationRemoved, so each must be an absolute, normalized
 * path, not a filesystem root, and apart from the worker's own directories.
 */
export function validateExecutorInfo(info: ExecutorShuffleInfo, protectedDirs: readonly string[]): ExecutorShuffleInfo {
  if (!ACCEPTED_SHUFFLE_MANAGERS.has(info.shuffleManager)) {
    throw invalid(`unsupported shuffle manager ${JSON.stringify(info.shuffleManager.substring(0, 200))}: expected one of ${[...ACCEPTED_SHUFFLE_MANAGERS].join(', ')}`);
  }
  if (!Number.isInteger(info.subDirsPerLocalDir) || info.subDirsPerLocalDir < 1 || info.subDirsPerLocalDir > MAX_SUBDIRS) {
    throw invalid(`subDirsPerLocalDir ${info.subDirsPerLocalDir} is not in 1..${MAX_SUBDIRS}`);
  }
  if (info.localDirs.length === 0 || info.localDirs.length > MAX_LOCAL_DIRS) throw invalid(`expected 1..${MAX_LOCAL_DIRS} local directories, got ${info.localDirs.length}`);
  const guarded = protectedDirs.map((d) => resolve(d));
  const localDirs = info.localDirs.map((dir) => {
    const trimmed = dir.length > 1 && dir.endsWith(sep) ? dir.substring(0, dir.length - 1) : dir;
    if (!isAbsolute(trimmed) || normalize(trimmed) !== trimmed || trimmed.includes(SEP)) throw invalid(`local directory ${JSON.stringify(dir)} is not an absolute normalized path`);
    if (parse(trimmed).root === trimmed) throw invalid(`local directory ${JSON.stringify(dir)} is a filesystem root`);
    if (guarded.some((g) => overlaps(trimmed, g))) throw invalid(`local directory ${JSON.stringify(dir)} overlaps a directory of the worker`);
    return trimmed;
  });
  return { localDirs, subDirsPerLocalDir: info.subDirsPerLocalDir, shuffleManager: info.shuffleManager };
}

export class ExecutorRegistry {
  private readonly apps = new Map<string, Map<string, ExecutorShuffleInfo>>();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: ClassicLevel<string, ExecutorShuffleInfo>,
    private readonly protectedDirs: readonly string[],
    private readonly roots: LocalDirRoots,
  ) {}

  /**
   * Opens (or creates) the store at `path` and loads every registration in
   * it that the worker's options still allow; the others are dropped.
   */
  static async open(path: string, protectedDirs: readonly string[], roots: LocalDirRoots): Promise<ExecutorRegistry> {
    const db = new ClassicLevel<string, ExecutorShuffleInfo>(path, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (err) {
      throw new BraidError(ErrorCodes.INTERNAL, `cannot open the executor store at ${path}: ${(err as Error).message}`, { cause: err });
    }
    const registry = new ExecutorRegistry(db, protectedDirs, roots);
    const dropped: string[] = [];
    for await (const [key, info] of db.iterator()) {
      const [appId, execId] = key.split(SEP);
      if (appId === undefined || execId === undefined) continue;
      try {
        registry.remember(appId, execId, await registry.validate(info));
      } catch (err) {
        dropped.push(key);
        componentLogger('ess').warn({ app: appId, executor: execId, err: (err as Error).message }, 'dropping a stored executor registration the worker no longer allows');
      }
    }
    for (const key of dropped) await db.del(key);
    return registry;
  }

  get size(): number {
    let n = 0;
    for (const execs of this.apps.values()) n += execs.size;
    return n;
  }

  get applications(): number {
    return this.apps.size;
  }

  get(appId: string, execId: string): ExecutorShuffleInfo | undefined {
    return this.apps.get(appId)?.get(execId);
  }

  /**
   * Registers (or re-registers) an executor; throws INVALID_REQUEST for a
   * registration the service cannot serve, PATH_NOT_ALLOWED for a local
   * directory outside the worker's essLocalDirRoots.
   */
  async register(appId: string, execId: string, info: ExecutorShuffleInfo): Promise<void> {
    const key = checkId(appId, 'appId') + SEP + checkId(execId, 'execId');
    const valid = await this.validate(info);
    return this.serial(async () => {
      await this.db.put(key, valid);
      this.remember(appId, execId, valid);
    });
  }

  /** Forgets every executor of `appId`; returns what they had registered. */
  async removeApp(appId: string): Promise<ExecutorShuffleInfo[]> {
    checkId(appId, 'appId');
    return this.serial(async () => {
      await this.db.clear({ gte: appId + SEP, lt: appId + END });
      const execs = this.apps.get(appId);
      this.apps.delete(appId);
      return execs === undefined ? [] : [...execs.values()];
    });
  }

  /** Application ids with at least one executor registered. */
  appIds(): string[] {
    return [...this.apps.keys()];
  }

  private async validate(info: ExecutorShuffleInfo): Promise<ExecutorShuffleInfo> {
    const valid = validateExecutorInfo(info, this.protectedDirs);
    for (const dir of valid.localDirs) await this.roots.check(dir);
    return valid;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.db.close();
  }

  private remember(appId: string, execId: string, info: ExecutorShuffleInfo): void {
    let execs = this.apps.get(appId);
    if (execs === undefined) this.apps.set(appId, (execs = new Map()));
    execs.set(execId, info);
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
