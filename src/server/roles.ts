import { createMetrics, startHttpServer, type HttpServerHandle, type Metrics } from '../metrics/index.js';
import type { MasterConfig, MasterCoreConfig, StandaloneConfig, WorkerConfig } from '../config/index.js';
import { addressKey } from '../protocol/index.js';
import { startMaster, type MasterHandle } from './master/index.js';
import { startStandalone } from './standalone.js';
import { observeRpc, promWorkerMetrics, startWorker, type WorkerHandle } from './worker/index.js';

/** A running role: the addresses to announce and how to stop it. */
export interface RunningRole {
  ready: Record<string, string | string[]>;
  close(): Promise<void>;
}

function masterOptions(c: MasterCoreConfig) {
  return {
    port: c.port,
    workerTimeoutMs: c.workerTimeout,
    appTimeoutMs: c.appTimeout,
    heartbeatIntervalMs: c.heartbeatInterval,
    slotStrategy: c.slotStrategy,
    replicate: c.replicate,
    authToken: c.authToken,
  };
}

function workerOptions(c: Omit<WorkerConfig, 'master'>) {
  return {
    memoryLimit: c.memoryLimit,
    lowWatermark: c.lowWatermark,
    replicaWatermark: c.replicaWatermark,
    chunkSize: c.chunkSize,
    flushThreshold: c.flushThreshold,
    splitThreshold: c.splitThreshold,
    hardSplitLimit: c.hardSplitLimit,
    diskReserve: c.diskReserve,
    chunkCacheSize: c.chunkCacheSize,
    maxChunksInFlight: c.maxChunksInFlight,
    essIndexCacheBytes: c.essIndexCacheBytes,
    essMaxChunksBeingTransferred: c.essMaxChunksBeingTransferred,
    essLocalDirRoots: [...c.essLocalDirRoots],
    heartbeatIntervalMs: c.heartbeatInterval,
    authToken: c.authToken,
  };
}

/** Gauges of a master, read from its status when scraped; HA counters advance by what changed since the last scrape. */
function watchMaster(m: Metrics, master: MasterHandle): void {
  const seen = { elections: 0, stepDowns: 0, failovers: 0 };
  m.onScrape(() => {
    const s = master.status();
    const ha = s.ha;
    m.masterLeader.set(ha.role === 'leader' || ha.role === 'alone' ? 1 : 0);
    m.masterRole.set(ha.role);
    m.masterTerm.set(ha.term);
    m.masterElections.inc(ha.elections - seen.elections);
    m.masterStepDowns.inc(ha.stepDowns - seen.stepDowns);
    m.masterFailovers.inc(ha.failovers - seen.failovers);
    Object.assign(seen, { elections: ha.elections, stepDowns: ha.stepDowns, failovers: ha.failovers });
    m.workersRegistered.set(s.workers.filter((w) => !w.lost).length);
    m.workersLost.set(s.workers.filter((w) => w.lost).length);
    m.applicationsActive.set(s.applications.length);
    m.shufflesActive.set(s.shuffles.length);
    m.slotsReserved.set(s.workers.reduce((n, w) => n + w.slots, 0));
  });
}

/** Gauges of a worker, read from its status when scraped. */
function watchWorker(m: Metrics, worker: WorkerHandle): void {
  let pauses = 0;
  m.onScrape(() => {
    const s = worker.status();
    m.memoryBuffered.set(s.memory.held);
    m.memoryLimit.set(s.memory.limit);
    m.streamsOpen.set(s.streams.open);
    m.shufflesActive.set(s.shuffles.length);
    m.socketPauses.inc(s.memory.pauses - pauses);
    pauses = s.memory.pauses;
  });
}

/** Starts the HTTP side; if it cannot (port taken), stops the role already running so nothing is left behind. */
async function http(host: string, port: number, metrics: Metrics[], status: () => unknown, stopRole: () => Promise<void>): Promise<HttpServerHandle | undefined> {
  if (port < 0) return undefined;
  try {
    return await startHttpServer({ host, port, metrics, status });
  } catch (err) {
    await stopRole().catch(() => undefined);
    throw err;
  }
}

function withHttp(ready: Record<string, string | string[]>, h: HttpServerHandle | undefined) {
  return h ? { ...ready, http: addressKey(h.address) } : ready;
}

export async function runMaster(c: MasterConfig): Promise<RunningRole> {
  const metrics = createMetrics('master');
  const ha = { etcd: c.etcd, leaseTtlMs: c.leaseTtl, clusterName: c.clusterName, leaderGraceMs: c.leaderGrace };
  const master = await startMaster({ ...masterOptions(c), ...ha, host: c.host }, { observeRpc: (method, s) => observeRpc(metrics, method, s) });
  watchMaster(metrics, master);
  const h = await http(c.host, c.httpPort, [metrics], () => master.status(), () => master.close());
  return {
    ready: withHttp({ master: addressKey(master.address) }, h),
    async close() {
      await h?.close();
      await master.close();
    },
  };
}

export async function runWorker(c: WorkerConfig): Promise<RunningRole> {
  const metrics = createMetrics('worker');
  const worker = await startWorker({ ...workerOptions(c), host: c.host, port: c.port, master: c.master, dataDirs: [...c.dataDirs] }, { metrics: promWorkerMetrics(metrics) });
  watchWorker(metrics, worker);
  const h = await http(c.host, c.httpPort, [metrics], () => worker.status(), () => worker.close());
  return {
    ready: withHttp({ worker: addressKey(worker.address) }, h),
    async close() {
      await h?.close();
      await worker.close();
    },
  };
}

export async function runStandalone(c: StandaloneConfig): Promise<RunningRole> {
  const masterMetrics = createMetrics('master');
  const workerMetrics = Array.from({ length: c.workers }, (_, i) => createMetrics('worker', { labels: { worker: String(i) } }));
  let next = 0;
  const cluster = await startStandalone({
    workers: c.workers,
    dataDir: c.dataDir,
    dataDirs: c.dataDirs,
    host: c.host,
    master: masterOptions(c),
    worker: workerOptions(c),
    masterDeps: { observeRpc: (method, s) => observeRpc(masterMetrics, method, s) },
    workerDeps: () => ({ metrics: promWorkerMetrics(workerMetrics[next++]!) }),
  });
  watchMaster(masterMetrics, cluster.master);
  cluster.workers.forEach((w, i) => watchWorker(workerMetrics[i]!, w));
  const h = await http(
    c.host,
    c.httpPort,
    [masterMetrics, ...workerMetrics],
    () => ({
      master: cluster.master.status(),
      workers: cluster.workers.map((w) => w.status()),
    }),
    () => cluster.close(),
  );
  return {
    ready: withHttp(
      { master: addressKey(cluster.masterAddress), workers: cluster.workers.map((w) => addressKey(w.address)), dataDir: cluster.dataDir, dataDirs: [...cluster.dataDirs] },
      h,
    ),
    async close() {
      await h?.close();
      await cluster.close();
    },
  };
}
