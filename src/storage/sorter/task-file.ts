/**
 * Finds the JavaScript file piscina runs as the sort worker.
 *
 * Built (`npm run build`), `sort-task.js` sits next to this module in dist/
 * and is used as is. Run from TypeScript sources (vitest, which transforms
 * files of the main thread only), there is no .js file, and Node 20 cannot
 * load `.ts` in a worker thread. Then the project's build in dist/ is used
 * when it is not older than these sources (`npm test` builds first, so tests
 * leave nothing behind). Otherwise the sorter's worker-side sources
 * (sort-task.ts, sorted-index.ts: Node built-ins and each other only) are
 * transpiled with the `typescript` dev dependency into a directory under
 * os.tmpdir() named by a hash of the sources, so every test process reuses
 * one copy and an edit produces a new one (copies a day old are pruned when
 * a new one is made). Production installs never take
 * this path: dist/ always has the .js file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BraidError, ErrorCodes } from '../../protocol/errors.js';

const ENTRY = 'sort-task';
/** Every module the worker loads; they may import only Node built-ins and each other. */
const WORKER_SOURCES = ['sort-task', 'sorted-index'];

let resolved: Promise<string> | undefined;

/** Absolute path of the worker entry; computed once per process. */
export function sortTaskFile(): Promise<string> {
  resolved ??= locate().catch((err: unknown) => {
    resolved = undefined;
    throw new BraidError(ErrorCodes.SORT_FAILED, `cannot locate the sort worker: ${(err as Error).message}`, {
      retriable: false,
      cause: err,
    });
  });
  return resolved;
}

async function locate(): Promise<string> {
  const compiled = fileURLToPath(new URL(`./${ENTRY}.js`, import.meta.url));
  if (await exists(compiled)) return compiled;
  const sourceDir = fileURLToPath(new URL('.', import.meta.url));
  if (!(await exists(join(sourceDir, `${ENTRY}.ts`)))) {
    throw new Error(`neither ${compiled} nor its TypeScript source exists`);
  }
  // Running from sources (tests): the project's own build, when it is not older than these sources.
  const built = fileURLToPath(new URL(`../../../dist/storage/sorter/${ENTRY}.js`, import.meta.url));
  if (await builtIsCurrent(built, sourceDir)) return built;
  return transpileToTemp(sourceDir);
}

async function transpileToTemp(sourceDir: string): Promise<string> {
  const sources = await Promise.all(WORKER_SOURCES.map((name) => readFile(join(sourceDir, `${name}.ts`), 'utf8')));
  const hash = createHash('sha256');
  for (const s of sources) hash.update(s).update('\0');
  const dir = join(tmpdir(), `${PREFIX}${hash.digest('hex').substring(0, 16)}`);
  const entry = join(dir, `${ENTRY}.js`);
  if (await exists(entry)) return entry;

  const ts = (await import('typescript')).default;
  // Built beside the final directory and renamed into place, so concurrent
  // test processes never see a half-written copy.
  const staging = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    await writeFile(join(staging, 'package.json'), '{ "type": "module" }\n');
    for (let i = 0; i < WORKER_SOURCES.length; i++) {
      const out = ts.transpileModule(sources[i], {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
        fileName: `${WORKER_SOURCES[i]}.ts`,
      });
      await writeFile(join(staging, `${WORKER_SOURCES[i]}.js`), out.outputText);
    }
    await rename(staging, dir);
    await pruneStale(dir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    // Another process won the rename: its copy is identical.
    if (!(await exists(entry))) throw err;
  }
  return entry;
}

const PREFIX = 'braid-sort-task-';
const STALE_MS = 24 * 3600 * 1000;

/** Removes copies made from older sources, once they are a day old (no test run still uses them). */
async function pruneStale(current: string): Promise<void> {
  const root = tmpdir();
  const now = Date.now();
  for (const name of await readdir(root).catch(() => [])) {
    const path = join(root, name);
    if (!name.startsWith(PREFIX) || path === current) continue;
    try {
      if (now - (await stat(path)).mtimeMs > STALE_MS) await rm(path, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** True when `built` exists and is at least as new as every TypeScript file of `sourceDir`. */
async function builtIsCurrent(built: string, sourceDir: string): Promise<boolean> {
  try {
    const builtAt = (await stat(built)).mtimeMs;
    const sources = (await readdir(sourceDir)).filter((f) => f.endsWith('.ts'));
    for (const f of sources) if ((await stat(join(sourceDir, f))).mtimeMs > builtAt) return false;
    return true;
  } catch {
    return false;
  }
}
