import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from '../protocol/index.js';
import { startMaster, type MasterHandle, type MasterOptions } from './master/index.js';
import { startWorker, type WorkerDeps, type WorkerHandle, type WorkerOptions } from './worker/index.js';

export interface StandaloneOptions {
  /** Number of workers (default 2). */
  workers?: number;
  /** Root of every worker's data; default a new temporary directory, removed on close. */
  dataDir?: string;
  host?: string;
  master?: Omit<MasterOptions, 'host'>;
  worker?: Omit<WorkerOptions, 'host' | 'master' | 'dataDirs'>;
  /** Dependencies of each worker (its metrics), asked once per worker. */
  workerDeps?: () => WorkerDeps;
}

export interface StandaloneHandle {
  readonly master: MasterHandle;
  readonly workers: readonly WorkerHandle[];
  readonly masterAddress: Address;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** A master and N workers in this process, on loopback, with data under one directory. */
export async function startStandalone(options: StandaloneOptions = {}): Promise<StandaloneHandle> {
  const host = options.host ?? '127.0.0.1';
  const count = options.workers ?? 2;
  const ownDir = options.dataDir === undefined || options.dataDir === '';
  const dataDir = ownDir ? await mkdtemp(join(tmpdir(), 'braid-standalone-')) : options.dataDir!;
  const master = await startMaster({ ...options.master, host });
  const workers: WorkerHandle[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const dir = join(dataDir, `worker-${i}`);
      await mkdir(dir, { recursive: true });
      workers.push(await startWorker({ diskReserve: 0, ...options.worker, host, master: master.address, dataDirs: [dir] }, options.workerDeps?.()));
    }
  } catch (err) {
    await Promise.all(workers.map((w) => w.close()));
    await master.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    master,
    workers,
    masterAddress: master.address,
    dataDir,
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await master.close();
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
