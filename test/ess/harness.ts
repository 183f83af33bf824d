/**
 * Shared fixture for the external shuffle service tests: real workers on
 * 127.0.0.1 port 0 with temporary data directories, executors' local
 * directories in other temporary directories, real connections; afterEach
 * closes every connection and worker and removes every directory.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { fetchBlocks, registerExecutor, writeMapOutput } from '../../src/ess/index.js';
import { BraidError, Role, type ErrorCode } from '../../src/protocol/index.js';
import { startWorker, type WorkerHandle, type WorkerOptions } from '../../src/server/worker/index.js';
import { connect, type Connection } from '../../src/transport/index.js';

const dirs: string[] = [];
const workers: WorkerHandle[] = [];
const conns: Connection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await Promise.all(workers.splice(0).map((w) => w.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

export async function tempDir(prefix = 'braid-ess-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Executors' local directories of these tests are made under the temporary directory: the workers allow it as their root. */
export async function execRoot(): Promise<string> {
  return realpath(tmpdir());
}

/** A worker on port 0 with a fresh data dir (unless given), no disk reserve and the temporary directory as its ESS root; closed after the test unless closed before. */
export async function worker(options: Partial<WorkerOptions> = {}): Promise<WorkerHandle> {
  const dataDirs = options.dataDirs ?? [await tempDir('braid-ess-data-')];
  const w = await startWorker({ diskReserve: 0, drainTimeoutMs: 0, insecure: true, essLocalDirRoots: [await execRoot()], ...options, dataDirs });
  workers.push(w);
  return w;
}

export async function open(w: WorkerHandle, role: Role = Role.Client, appId = 'app'): Promise<Connection> {
  const c = await connect(w.address, { role, appId });
  conns.push(c);
  return c;
}

/** An executor's local directories: `n` fresh directories under one temporary root. */
export async function localDirs(n: number): Promise<{ root: string; dirs: string[] }> {
  const root = await tempDir('braid-ess-exec-');
  return { root, dirs: Array.from({ length: n }, (_, i) => join(root, `blockmgr-${i}`)) };
}

/** Deterministic bytes: block content tells where it came from. */
export function blockBytes(shuffleId: number, mapId: number, reduceId: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (shuffleId * 131 + mapId * 31 + reduceId * 7 + i) & 0xff;
  return b;
}

export interface MapOutputs {
  /** blocks[mapId][reduceId] */
  blocks: Buffer[][];
}

/** Writes `maps` map outputs of `sizes(mapId, reduceId)` bytes per partition. */
export async function writeMaps(dirsOf: readonly string[], subDirs: number, shuffleId: number, maps: number, partitions: number, size: (m: number, r: number) => number): Promise<MapOutputs> {
  const blocks: Buffer[][] = [];
  for (let m = 0; m < maps; m++) {
    const parts = Array.from({ length: partitions }, (_, r) => blockBytes(shuffleId, m, r, size(m, r)));
    await writeMapOutput(dirsOf, subDirs, shuffleId, m, parts);
    blocks.push(parts);
  }
  return { blocks };
}

export async function register(conn: Connection, execId: string, dirsOf: readonly string[], subDirs: number, appId = 'app'): Promise<void> {
  await registerExecutor(conn, appId, execId, { localDirs: dirsOf, subDirsPerLocalDir: subDirs, shuffleManager: 'sort' });
}

export async function fetchAll(conn: Connection, execId: string, blockIds: readonly string[], appId = 'app', maxInFlight = 4): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of fetchBlocks(conn, appId, execId, blockIds, { maxInFlight })) out.push(b);
  return out;
}

export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<BraidError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(BraidError);
  expect((err as BraidError).code).toBe(code);
  return err as BraidError;
}
