import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from '../protocol/index.js';
import { TlsMaterial, type ServerSecurityOptions } from '../security/index.js';
import { startMaster, type MasterDeps, type MasterHandle, type MasterOptions } from './master/index.js';
import { startWorker, type WorkerDeps, type WorkerHandle, type WorkerOptions } from './worker/index.js';

/** Security options (authSecret, insecure, tls, limits) apply to the master and every worker alike. */
export interface StandaloneOptions extends ServerSecurityOptions {
  /** Number of workers (default 2). */
  workers?: number;
  /** Root of every worker's data; default a new temporary directory, removed on close. */
  dataDir?: string;
  /**
   * Disks shared by the workers instead of one root: worker i stores under
   * `<disk>/worker-i` on every one of them. Not removed on close.
   */
  dataDirs?: readonly string[];
  /** Where the master and every worker listen, and what they advertise (see transport/advertise.ts). */
  host?: string;
  advertiseHost?: string;
  advertiseInterface?: string;
  master?: Omit<MasterOptions, 'host' | 'advertiseHost' | 'advertiseInterface' | keyof ServerSecurityOptions>;
  worker?: Omit<WorkerOptions, 'host' | 'advertiseHost' | 'advertiseInterface' | 'master' | 'dataDirs' | keyof ServerSecurityOptions>;
  /** Dependencies of each worker (its metrics), asked once per worker. */
  masterDeps?: MasterDeps;
  workerDeps?: () => WorkerDeps;
}

export interface StandaloneHandle {
  readonly master: MasterHandle;
  readonly workers: readonly WorkerHandle[];
  readonly masterAddress: Address;
  /** The first (usually only) root of the workers' data. */
  readonly dataDir: string;
  /** Every root: the dataDirs given, or [dataDir]. */
  readonly dataDirs: readonly string[];
  close(): Promise<void>;
}

/** A master and N workers in this process, on loopback, with data under one directory (or under each of dataDirs). */
export async function startStandalone(options: StandaloneOptions = {}): Promise<StandaloneHandle> {
  const host = options.host ?? '127.0.0.1';
  // One TLS material for every role, so one reload renews them all.
  const security: ServerSecurityOptions = { authSecret: options.authSecret, insecure: options.insecure, tls: TlsMaterial.resolve(options.tls), limits: options.limits };
  const count = options.workers ?? 2;
  const disks = options.dataDirs ?? [];
  const ownDir = disks.length === 0 && (options.dataDir === undefined || options.dataDir === '');
  const roots = disks.length > 0 ? [...disks] : [ownDir ? await mkdtemp(join(tmpdir(), 'braid-standalone-')) : options.dataDir!];
  const dataDir = roots[0]!;
  let master: MasterHandle | undefined;
  const workers: WorkerHandle[] = [];
  try {
    const where = { host, advertiseHost: options.advertiseHost, advertiseInterface: options.advertiseInterface };
    master = await startMaster({ ...options.master, ...security, ...where }, options.masterDeps);
    for (let i = 0; i < count; i++) {
      const dirs = roots.map((root) => join(root, `worker-${i}`));
      for (const dir of dirs) await mkdir(dir, { recursive: true });
      // The whole cluster stops together: no application is left to commit what a worker would wait for.
      const worker = { diskReserve: 0, drainTimeoutMs: 0, ...options.worker, ...security, ...where };
      workers.push(await startWorker({ ...worker, master: master.address, dataDirs: dirs }, options.workerDeps?.()));
    }
  } catch (err) {
    await Promise.all(workers.map((w) => w.close()));
    await master?.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const started = master;
  let closing: Promise<void> | undefined;
  return {
    master: started,
    workers,
    masterAddress: started.address,
    dataDir,
    dataDirs: roots,
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await started.close();
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
