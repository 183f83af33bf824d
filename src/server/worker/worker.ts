import { join } from 'node:path';
import { BlockHandler, defaultEssStorePath } from '../../ess/block-handler.js';
import { masterForNetwork } from '../../ha/master-addresses.js';
import { componentLogger } from '../../log/index.js';
import { BraidError, DecommissionWorker, ErrorCodes, GetStatus, MessageType, Role, addressKey, type Address } from '../../protocol/index.js';
import { ChunkReader, DataDirs, MapRangeSorter, MetaStore } from '../../storage/index.js';
import {
  RpcRouter,
  TransportServer,
  advertisedHost,
  serverLiveness,
  type Connection,
  type ConnectionStats,
  type InboundRequest,
} from '../../transport/index.js';
import { ChunkCache } from './chunk-cache.js';
import { ChunkPool } from './chunk-pool.js';
import { ControlHandlers } from './control-handlers.js';
import { Departure, type DepartureStatus } from './departure.js';
import { diskWatch } from './disk-watch.js';
import { MasterLink } from './master-link.js';
import { MemoryManager } from './memory-manager.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.js';
import { PushHandler } from './push-handler.js';
import { Replicator } from './replicator.js';
import { WorkerQuotas, type WorkerQuotaStatus } from './quotas.js';
import { ShuffleRegistry, appIdOfKey } from './shuffle-registry.js';
import { StreamManager } from './stream-manager.js';
import { NOOP_WORKER_METRICS, type WorkerMetrics } from './worker-metrics.js';

/** Idle chunk buffers kept for reuse (see chunk-pool.ts). */
const CHUNK_POOL_IDLE_BYTES = 128 * 1024 * 1024;

export interface WorkerHandle {
  readonly address: Address;
  readonly options: ResolvedWorkerOptions;
  /** Bytes of pushed data held in memory right now, and the peak since start. */
  memory(): { held: number; peak: number; pauses: number; paused: boolean };
  /** The whole status, as an operator sees it. */
  status(): WorkerStatus;
  /** Reads the TLS files again; throws, changing nothing, if they are unusable. */
  reloadTls(): void;
  /**
   * Takes the worker out of service (see departure.ts): no new slots or
   * pushes, reads served until every shuffle here is gone, then it stops by
   * itself (`stopped` resolves). Returns at once.
   */
  decommission(): DepartureStatus;
  /** Resolves once the worker has stopped: after close(), or at the end of a decommission. */
  readonly stopped: Promise<void>;
  /**
   * Graceful stop: new pushes get HARD_SPLIT, the commits of the shuffles held
   * here are waited for (at most drainTimeoutMs), then what is still open is
   * committed and persisted and the server closes.
   */
  close(): Promise<void>;
}

export interface WorkerStatus extends DepartureStatus {
  role: 'worker';
  address: string;
  registered: boolean;
  shuttingDown: boolean;
  memory: { held: number; peak: number; limit: number; pauses: number; paused: boolean };
  disks: ReturnType<DataDirs['status']>;
  streams: { open: number; chunksInFlight: number };
  chunkCache: { bytes: number; hits: number; misses: number; buffersAllocated: number; buffersReused: number };
  shuffles: { key: string; files: number; committed: number }[];
  quotas: WorkerQuotaStatus;
  /** Connections open now and refused since start. */
  connections: ConnectionStats;
}

/** Only the admin role sees every application's shuffles; an application sees its own. */
export function workerStatusView(s: WorkerStatus, viewer: { peerRole: number; appId: string }): WorkerStatus {
  if (viewer.peerRole === Role.Admin) return s;
  const own = (appId: string) => appId === viewer.appId;
  return {
    ...s,
    shuffles: s.shuffles.filter((sh) => own(appIdOfKey(sh.key))),
    quotas: { ...s.quotas, usage: s.quotas.usage.filter((u) => own(u.appId)) },
  };
}

export interface WorkerDeps {
  metrics?: WorkerMetrics;
}

/** Why a directory or store cannot be used, with the system's reason when there is one (LevelDB keeps it in `cause`). */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

/** A worker none of whose data directories can be written is misconfigured, not a worker that takes no slots. */
function requireUsableDataDir(dataDirs: DataDirs): void {
  if (dataDirs.all.some((d) => d.healthy)) return;
  const why = dataDirs.all.map((d) => `${d.path}: ${reason(d.error)}`).join('; ');
  throw new BraidError(ErrorCodes.CONFIG, `worker option "dataDirs": no data directory can be used (${why})`, { retriable: false });
}

async function openMetaStore(o: ResolvedWorkerOptions): Promise<MetaStore> {
  const path = o.metaStorePath ?? join(o.dataDirs[0]!, '.braid-meta');
  try {
    return await MetaStore.open(path);
  } catch (err) {
    const option = o.metaStorePath === undefined ? 'dataDirs' : 'metaStorePath';
    throw new BraidError(ErrorCodes.CONFIG, `worker option "${option}": cannot keep the metadata store at ${path}: ${reason(err)}`, { retriable: false, cause: err });
  }
}

export async function startWorker(options: WorkerOptions, deps: WorkerDeps = {}): Promise<WorkerHandle> {
  const o = resolveWorkerOptions(options);
  // Checked before anything is opened: a worker peers could not reach must not start at all.
  const network = masterForNetwork(o.masters);
  const advertise = advertisedHost(o, { role: 'worker', master: network === undefined ? undefined : addressKey(network) });
  const metrics = deps.metrics ?? NOOP_WORKER_METRICS;
  const dataDirs = await DataDirs.open(o.dataDirs, { reserveBytes: o.diskReserve });
  requireUsableDataDir(dataDirs);
  const meta = await openMetaStore(o);
  const registry = new ShuffleRegistry();
  const cache = new ChunkCache(o.chunkCacheSize);
  const memory = new MemoryManager({
    limit: o.memoryLimit,
    lowWatermark: o.lowWatermark,
    replicaWatermark: o.replicaWatermark,
    onPressure: () => {
      for (const w of registry.writers()) if (w.bytesBuffered > 0) void w.flush().catch(() => undefined);
    },
  });
  const sorter = new MapRangeSorter({ maxThreads: o.sortThreads, maxQueue: 64 });
  const reader = new ChunkReader({ maxOpenFiles: 256 });
  const pool = new ChunkPool(CHUNK_POOL_IDLE_BYTES);
  const streams = new StreamManager(registry, sorter, cache, pool, reader, { chunkSize: o.chunkSize, maxChunksInFlight: o.maxChunksInFlight }, metrics);
  // Refusals name the worker: the closure runs only when requests are served, after `server` is listening.
  const quotas = new WorkerQuotas(o.quotas, registry, () => addressKey(server.address));
  const control = new ControlHandlers(registry, dataDirs, memory, meta, (path) => streams.forgetFile(path), o, quotas);
  // From here, a failure to start must close what is open (a caller in the same process goes on).
  const opened: (() => Promise<void> | void)[] = [() => meta.close(), () => sorter.close(), () => reader.close(), () => memory.stop()];
  const failStart = async (err: unknown): Promise<never> => {
    for (const close of opened.reverse()) await Promise.resolve().then(close).catch(() => undefined);
    throw err;
  };
  await control.reload().catch(failStart);
  const replicator = new Replicator({ key: o.security.secret, tls: o.security.tls, timeoutMs: o.replicaTimeoutMs, backoffMs: o.deadPeerBackoffMs, connection: o });
  const push = new PushHandler(registry, dataDirs, replicator, { hardSplitLimit: o.hardSplitLimit }, metrics, quotas);

  const router = new RpcRouter((method, seconds) => metrics.rpc(method, seconds));
  control.register(router);
  // External shuffle service mode: executors' own map output files, served as segment streams.
  const ess = await BlockHandler.open(
    {
      storePath: defaultEssStorePath(o.dataDirs[0]!),
      indexCacheBytes: o.essIndexCacheBytes,
      maxChunksBeingTransferred: o.essMaxChunksBeingTransferred,
      protectedDirs: o.metaStorePath === undefined ? o.dataDirs : [...o.dataDirs, o.metaStorePath],
      localDirRoots: o.essLocalDirRoots,
    },
    { openSegments: (conn, segments, hooks) => streams.openSegments(conn, segments, hooks), forgetFile: (path) => reader.forget(path) },
  ).catch(failStart);
  opened.push(() => ess.close(), () => replicator.close());
  ess.register(router);
  let link: MasterLink | undefined;
  let departure: Departure | undefined;
  /** `host:port` as advertised, fixed once listening (the status is served after the server closed too). */
  let self = '';
  const status = (): WorkerStatus => ({
    ...(departure?.status() ?? { state: 'serving' }),
    role: 'worker',
    address: self,
    registered: link?.isRegistered ?? false,
    shuttingDown: push.shuttingDown,
    memory: { held: memory.held, peak: memory.peak, limit: o.memoryLimit, pauses: memory.pauses, paused: memory.paused },
    disks: dataDirs.status(),
    streams: { open: streams.openStreams, chunksInFlight: streams.chunksInFlight },
    chunkCache: { bytes: cache.bytes, hits: cache.hits, misses: cache.misses, buffersAllocated: pool.allocated, buffersReused: pool.reused },
    shuffles: [...registry.all()].map((s) => ({
      key: s.key,
      files: s.files.size,
      committed: [...s.files.values()].filter((f) => f.committed !== undefined).length,
    })),
    quotas: quotas.status(),
    connections: server.stats(),
  });
  router
    .on(GetStatus, (_req, conn) => ({ json: Buffer.from(JSON.stringify(workerStatusView(status(), conn))) }))
    // Admin connections only (the access table).
    .on(DecommissionWorker, (_req, conn) => {
      if (departure === undefined) throw new BraidError(ErrorCodes.SERVER_BUSY, 'the worker is still starting; ask again');
      log.info({ by: conn.remote }, 'decommission asked for over the admin RPC');
      departure.decommission();
      return { json: Buffer.from(JSON.stringify(workerStatusView(status(), conn))) };
    });

  const onRequest = (msg: InboundRequest, conn: Connection): void => {
    switch (msg.type) {
      case MessageType.PushData:
      case MessageType.PushMergedData:
        return push.handle(msg, conn);
      case MessageType.RpcRequest:
        return router.dispatch(msg, conn);
      case MessageType.OpenStream:
        return void streams.open(msg, conn);
      case MessageType.ChunkFetchRequest:
        return void streams.fetch(msg, conn);
    }
  };
  const server = await TransportServer.listen({
    host: o.host,
    advertiseHost: advertise,
    port: o.port,
    role: Role.Worker,
    roles: [Role.Client, Role.LifecycleManager, Role.Replica, Role.Admin],
    onRequest,
    onConnection: (conn) => memory.track(conn),
    auth: o.security.auth,
    tls: o.security.tls,
    limits: o.security.limits,
    connection: serverLiveness(o),
  }).catch((err: unknown) =>
    // EADDRINUSE, EADDRNOTAVAIL, EACCES: the host/port options do not fit this machine.
    failStart(new BraidError(ErrorCodes.CONFIG, `worker options "host"/"port": cannot listen on ${o.host}:${o.port}: ${reason(err)}`, { retriable: false, cause: err })),
  );
  self = addressKey(server.address);
  const log = componentLogger('worker', { worker: self });
  const checkDisks = diskWatch(dataDirs, log);
  checkDisks();
  memory.setLogger(log);
  control.log = log;
  log.info({ listen: `${o.host}:${server.address.port}`, advertised: self, dataDirs: o.dataDirs, masters: o.masters.map(addressKey) }, 'worker listening');

  if (o.masters.length > 0) {
    link = new MasterLink({
      masters: o.masters,
      self: server.address,
      intervalMs: o.heartbeatIntervalMs,
      key: o.security.secret,
      tls: o.security.tls,
      connection: o,
      log,
      disks: async () => {
        await dataDirs.refresh();
        checkDisks();
        return dataDirs.status();
      },
      activeShuffles: () => {
        const keys: string[] = [];
        const slots: number[] = [];
        for (const s of registry.all()) {
          keys.push(s.key);
          slots.push(s.files.size);
        }
        return { keys, slots };
      },
      shuttingDown: () => push.shuttingDown,
      onExpired: async (keys) => {
        for (const k of keys) await control.deleteShuffle(k);
      },
      essAppIds: () => ess.appIds(),
      // An expired application is removed as ApplicationRemoved with cleanup would: its executors' directories go too.
      onAppsExpired: async (appIds) => {
        for (const appId of appIds) await ess.applicationRemoved(appId, true).catch(() => undefined);
      },
    });
    await link.start();
  }

  /** Everything after the last request: the server closes first, then what is still open is committed and persisted. */
  const release = async (): Promise<void> => {
    await link?.stop();
    await server.close();
    await control.commitOpen();
    await replicator.close();
    await sorter.close();
    await reader.close();
    await meta.close();
    memory.stop();
    await ess.close();
  };
  departure = new Departure({
    registry,
    refuseWork: () => {
      push.shuttingDown = true;
      control.refuseReservations = true;
      // Buffered data goes to disk now rather than at commit: less to do when the commits come.
      for (const w of registry.writers()) void w.flush().catch(() => undefined);
    },
    announce: async () => {
      await link?.beatAfterCurrent();
    },
    callsInFlight: () => router.inFlight,
    release,
    drainTimeoutMs: o.drainTimeoutMs,
    decommissionTimeoutMs: o.decommissionTimeoutMs,
    log,
  });
  const leaving = departure;
  return {
    address: server.address,
    options: o,
    memory: () => ({ held: memory.held, peak: memory.peak, pauses: memory.pauses, paused: memory.paused }),
    status,
    reloadTls: () => o.security.tls?.reload(),
    decommission: () => leaving.decommission(),
    stopped: leaving.stopped,
    close: () => leaving.stop(),
  };
}
