import { createMetrics, startHttpServer, type HttpServerHandle, type Metrics } from '../metrics/index.js';
import type { CommonConfig, MasterConfig, MasterCoreConfig, StandaloneConfig, WorkerConfig } from '../config/index.js';
import { masterQuotasFrom, workerQuotasFrom } from '../config/quota-options.js';
import { serverSecurityFrom } from '../config/security-options.js';
import { addressKey } from '../protocol/index.js';
import { HttpAuthenticator, type HttpViewer } from '../security/http-auth.js';
import { TlsMaterial } from '../security/tls.js';
import type { ServerSecurityOptions } from '../security/server-security.js';
import type { ConnectionStats } from '../transport/index.js';
import { quotaOption } from './worker/quotas.js';
import { startMaster, statusView, type MasterHandle } from './master/index.js';
import { startStandalone } from './standalone.js';
import { observeRpc, promWorkerMetrics, startWorker, workerStatusView, type WorkerHandle } from './worker/index.js';

/** A running role: the addresses to announce, how to renew its certificate, and how to stop it. */
export interface RunningRole {
  ready: Record<string, string | string[]>;
  /** Reads the TLS files again (SIGHUP); throws, changing nothing, when they are unusable. No-op without TLS. */
  reloadTls(): void;
  close(): Promise<void>;
  /** Takes the role out of service (workers: SIGUSR2 or the admin RPC). */
  decommission?(): void;
  /** Resolves when the role stopped by itself (a worker at the end of its decommission). */
  stopped?: Promise<void>;
}

/** The role's security options, with its TLS files loaded once: the Braid listener, outgoing connections and HTTPS share them. */
function security(c: MasterConfig | WorkerConfig | StandaloneConfig): ServerSecurityOptions & { tls: TlsMaterial | undefined } {
  const s = serverSecurityFrom(c);
  return { ...s, tls: TlsMaterial.resolve(s.tls) };
}

/** What every role passes on: where it listens and advertises, and how it finds dead peers. */
function commonOptions(c: CommonConfig) {
  return {
    host: c.host,
    advertiseHost: c.advertiseHost,
    advertiseInterface: c.advertiseInterface,
    pingIntervalMs: c.pingInterval,
    deadPeerTimeoutMs: c.deadPeerTimeout,
    connectTimeoutMs: c.connectTimeout,
  };
}

function masterOptions(c: MasterCoreConfig) {
  return {
    ...commonOptions(c),
    port: c.port,
    workerTimeoutMs: c.workerTimeout,
    appTimeoutMs: c.appTimeout,
    heartbeatIntervalMs: c.heartbeatInterval,
    slotStrategy: c.slotStrategy,
    replicate: c.replicate,
    quotas: masterQuotasFrom(c),
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
    essLocalDirRoots: [...c.essLocalDirRoots],
    heartbeatIntervalMs: c.heartbeatInterval,
    quotas: workerQuotasFrom(c),
  };
}

/**
 * Connection and quota series from a status: counters grow by what the
 * status's running totals grew since the last scrape.
 */
function watchSecurity(m: Metrics): (s: { connections: ConnectionStats; quotas: { limits: object; refusals: object } }) => void {
  const seen = new Map<string, number>();
  const grow = (series: Metrics['quotaRefusals'], kind: string, totals: object) => {
    for (const [label, total] of Object.entries(totals) as [string, number][]) {
      const key = `${kind}/${label}`;
      series.inc(label, Math.max(0, total - (seen.get(key) ?? 0)));
      seen.set(key, total);
    }
  };
  return (s) => {
    m.connectionsOpen.set(s.connections.open);
    grow(m.connectionsRefused, 'refused', s.connections.refused);
    for (const [name, limit] of Object.entries(s.quotas.limits) as [string, number][]) m.quotaLimit.set(quotaOption(name), limit);
    grow(m.quotaRefusals, 'quota', Object.fromEntries(Object.entries(s.quotas.refusals).map(([k, v]) => [quotaOption(k), v as number])));
  };
}

/** Gauges of a master, read from its status when scraped; HA counters advance by what changed since the last scrape. */
function watchMaster(m: Metrics, master: MasterHandle): void {
  const seen = { elections: 0, stepDowns: 0, failovers: 0 };
  const security = watchSecurity(m);
  m.onScrape(() => {
    const s = master.status();
    security(s);
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
  const security = watchSecurity(m);
  m.onScrape(() => {
    const s = worker.status();
    security(s);
    m.memoryBuffered.set(s.memory.held);
    m.memoryLimit.set(s.memory.limit);
    m.streamsOpen.set(s.streams.open);
    m.shufflesActive.set(s.shuffles.length);
    m.socketPauses.inc(s.memory.pauses - pauses);
    pauses = s.memory.pauses;
  });
}

/** Starts the HTTP side; if it cannot (port taken), stops the role already running so nothing is left behind. */
async function http(
  host: string,
  port: number,
  sec: ServerSecurityOptions & { tls: TlsMaterial | undefined },
  metrics: Metrics[],
  status: (viewer: HttpViewer) => unknown,
  stopRole: () => Promise<void>,
): Promise<HttpServerHandle | undefined> {
  if (port < 0) return undefined;
  try {
    const auth = sec.authSecret ? new HttpAuthenticator(sec.authSecret) : undefined;
    return await startHttpServer({ host, port, metrics, status, auth, tls: sec.tls });
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
  const sec = security(c);
  const metrics = createMetrics('master');
  const ha = { etcd: c.etcd, leaseTtlMs: c.leaseTtl, clusterName: c.clusterName, leaderGraceMs: c.leaderGrace };
  const master = await startMaster({ ...masterOptions(c), ...ha, ...sec }, { observeRpc: (method, s) => observeRpc(metrics, method, s) });
  watchMaster(metrics, master);
  const h = await http(c.host, c.httpPort, sec, [metrics], (viewer) => statusView(master.status(), viewer), () => master.close());
  return {
    ready: withHttp({ master: addressKey(master.address) }, master.address.host, h),
    reloadTls: () => sec.tls?.reload(),
    async close() {
      await h?.close();
      await master.close();
    },
  };
}

export async function runWorker(c: WorkerConfig): Promise<RunningRole> {
  const sec = security(c);
  const metrics = createMetrics('worker');
  const worker = await startWorker(
    {
      ...workerOptions(c),
      ...sec,
      port: c.port,
      master: c.master,
      dataDirs: [...c.dataDirs],
      drainTimeoutMs: c.drainTimeout,
      decommissionTimeoutMs: c.decommissionTimeout,
    },
    { metrics: promWorkerMetrics(metrics) },
  );
  watchWorker(metrics, worker);
  const h = await http(c.host, c.httpPort, sec, [metrics], (viewer) => workerStatusView(worker.status(), viewer), () => worker.close());
  // The status stays served while the worker leaves service; HTTP goes when the worker has stopped.
  const stopped = (async () => {
    await worker.stopped;
    await h?.close();
  })();
  return {
    ready: withHttp({ worker: addressKey(worker.address) }, worker.address.host, h),
    reloadTls: () => sec.tls?.reload(),
    decommission: () => void worker.decommission(),
    stopped,
    async close() {
      await worker.close();
      await stopped;
    },
  };
}

export async function runStandalone(c: StandaloneConfig): Promise<RunningRole> {
  const sec = security(c);
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
    ...sec,
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
    sec,
    [masterMetrics, ...workerMetrics],
    (viewer) => ({
      master: statusView(cluster.master.status(), viewer),
      workers: cluster.workers.map((w) => workerStatusView(w.status(), viewer)),
    }),
    () => cluster.close(),
  );
  return {
    ready: withHttp(
      { master: addressKey(cluster.masterAddress), workers: cluster.workers.map((w) => addressKey(w.address)), dataDir: cluster.dataDir, dataDirs: [...cluster.dataDirs] },
      cluster.masterAddress.host,
      h,
    ),
    reloadTls: () => sec.tls?.reload(),
    async close() {
      await h?.close();
      await cluster.close();
    },
  };
}
