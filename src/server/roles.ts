import { createMetrics, startHttpServer, type HttpServerHandle, type Metrics } from '../metrics/index.js';
import type { CommonConfig, MasterConfig, StandaloneConfig, WorkerConfig } from '../config/index.js';
import { addressKey } from '../protocol/index.js';
import { startMaster, type MasterHandle } from './master/index.js';
import { startStandalone } from './standalone.js';
import { observeRpc, promWorkerMetrics, startWorker, type WorkerHandle } from './worker/index.js';

/** A running role: the addresses to announce and how to stop it. */
export interface RunningRole {
  ready: Record<string, string | string[]>;
  close(): Promise<void>;
  /** Takes the role out of service (workers: SIGUSR2 or the admin RPC). */
  decommission?(): void;
  /** Resolves when the role stopped by itself (a worker at the end of its decommission). */
  stopped?: Promise<void>;
}

/** What every role passes on: where it listens and advertises, and how it finds dead peers. */
function commonOptions(c: CommonConfig) {
  return {
    host: c.host,
    advertiseHost: c.advertiseHost,
    advertiseInterface: c.advertiseInterface,
    authToken: c.authToken,
    pingIntervalMs: c.pingInterval,
    deadPeerTimeoutMs: c.deadPeerTimeout,
    connectTimeoutMs: c.connectTimeout,
  };
}

function masterOptions(c: MasterConfig) {
  return {
    ...commonOptions(c),
    port: c.port,
    workerTimeoutMs: c.workerTimeout,
    appTimeoutMs: c.appTimeout,
    heartbeatIntervalMs: c.heartbeatInterval,
    slotStrategy: c.slotStrategy,
    replicate: c.replicate,
  };
}

function workerOptions(c: Omit<WorkerConfig, 'master' | 'drainTimeout' | 'decommissionTimeout'>) {
  return {
    ...commonOptions(c),
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
    heartbeatIntervalMs: c.heartbeatInterval,
  };
}

/** Gauges of a master, read from its status when scraped. */
function watchMaster(m: Metrics, master: MasterHandle): void {
  m.onScrape(() => {
    const s = master.status();
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

/** The ready line's `http`, on the host the role advertises (its listen address may be a wildcard). */
function withHttp(ready: Record<string, string | string[]>, advertised: string, h: HttpServerHandle | undefined) {
  return h ? { ...ready, http: addressKey({ host: advertised, port: h.address.port }) } : ready;
}

export async function runMaster(c: MasterConfig): Promise<RunningRole> {
  const metrics = createMetrics('master');
  const master = await startMaster(masterOptions(c), { observeRpc: (method, s) => observeRpc(metrics, method, s) });
  watchMaster(metrics, master);
  const h = await http(c.host, c.httpPort, [metrics], () => master.status(), () => master.close());
  return {
    ready: withHttp({ master: addressKey(master.address) }, master.address.host, h),
    async close() {
      await h?.close();
      await master.close();
    },
  };
}

export async function runWorker(c: WorkerConfig): Promise<RunningRole> {
  const metrics = createMetrics('worker');
  const worker = await startWorker(
    {
      ...workerOptions(c),
      port: c.port,
      master: c.master,
      dataDirs: [...c.dataDirs],
      drainTimeoutMs: c.drainTimeout,
      decommissionTimeoutMs: c.decommissionTimeout,
    },
    { metrics: promWorkerMetrics(metrics) },
  );
  watchWorker(metrics, worker);
  const h = await http(c.host, c.httpPort, [metrics], () => worker.status(), () => worker.close());
  const stopHttp = (async () => {
    await worker.stopped;
    await h?.close();
  })();
  return {
    ready: withHttp({ worker: addressKey(worker.address) }, worker.address.host, h),
    decommission: () => void worker.decommission(),
    stopped: stopHttp,
    async close() {
      await worker.close();
      await stopHttp;
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
    advertiseHost: c.advertiseHost,
    advertiseInterface: c.advertiseInterface,
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
      cluster.masterAddress.host,
      h,
    ),
    async close() {
      await h?.close();
      await cluster.close();
    },
  };
}
