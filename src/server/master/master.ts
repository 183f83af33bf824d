import { componentLogger } from '../../log/index.js';
import {
  ApplicationHeartbeat,
  BraidError,
  ErrorCodes,
  GetStatus,
  MasterInfo,
  MessageType,
  RegisterWorker,
  RequestSlots,
  Role,
  UnregisterShuffle,
  WorkerHeartbeat,
  addressKey,
  type Address,
} from '../../protocol/index.js';
import { checkApplication } from '../../security/access.js';
import { RpcRouter, TransportServer, advertisedHost, serverLiveness, type Connection, type InboundRequest } from '../../transport/index.js';
import { resolveMasterOptions, type MasterOptions } from './options.js';
import { statusView, type MasterStatus } from './status.js';
import { Tenure } from './tenure.js';

export interface MasterHandle {
  /** Where the master listens (the real port when started on port 0). */
  readonly address: Address;
  /** The whole status, as an operator sees it (cluster-wide). */
  status(): MasterStatus;
  /** Reads the TLS files again (new certificate for new connections); throws, changing nothing, if they are unusable. */
  reloadTls(): void;
  /** Stops the timers, resigns the leadership, and closes the server and every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * The address a leader publishes in etcd, which standbys name to clients:
 * the advertised host (never a wildcard; see transport/advertise.ts) and the
 * port the master listens on.
 */
export function publishedAddress(advertisedHost: string, listening: Address): Address {
  return { host: advertisedHost, port: listening.port };
}

/** How often silent workers and applications are looked for: often enough to notice within a fraction of the timeout. */
function sweepPeriodMs(workerTimeoutMs: number, appTimeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(Math.min(workerTimeoutMs, appTimeoutMs) / 4)));
}

function notServed(message: InboundRequest, conn: Connection): void {
  const err = new BraidError(ErrorCodes.INVALID_REQUEST, 'the master serves control RPCs only', { retriable: false });
  if (message.type === MessageType.ChunkFetchRequest) {
    conn.reply({
      type: MessageType.ChunkFetchFailure,
      streamId: message.streamId,
      chunkIndex: message.chunkIndex,
      code: err.code,
      message: err.message,
      retriable: false,
    });
    return;
  }
  conn.replyFailure(message.requestId, err);
}

/** Validates the options, listens, and serves the Master's control RPCs. */
export interface MasterDeps {
  /** Hears of every served control RPC (metrics). */
  observeRpc?: (method: string, seconds: number) => void;
}

export async function startMaster(options: MasterOptions = {}, deps: MasterDeps = {}): Promise<MasterHandle> {
  const opts = resolveMasterOptions(options);
  const startedAt = opts.now();
  const advertise = advertisedHost(opts, { role: 'master' });
  const router = new RpcRouter(deps.observeRpc);
  const server = await TransportServer.listen({
    host: opts.host,
    advertiseHost: advertise,
    port: opts.port,
    connection: serverLiveness(opts),
    role: Role.Master,
    roles: [Role.Worker, Role.LifecycleManager, Role.Admin],
    auth: opts.security.auth,
    tls: opts.security.tls,
    limits: opts.security.limits,
    onRequest(message, conn) {
      if (message.type === MessageType.RpcRequest) router.dispatch(message, conn);
      else notServed(message, conn);
    },
  }).catch((err: unknown) => {
    // EADDRINUSE, EADDRNOTAVAIL, EACCES: all mean the host/port options do not fit this machine.
    const reason = err instanceof Error ? err.message : String(err);
    throw new BraidError(ErrorCodes.CONFIG, `cannot listen on options.host:options.port ${opts.host}:${opts.port}: ${reason}`, {
      retriable: false,
      cause: err,
    });
  });
  const address = server.address;
  const published = publishedAddress(advertise, address);
  const log = componentLogger('master', { master: addressKey(published) });
  log.info(
    { listen: `${opts.host}:${address.port}`, advertised: addressKey(published), workerTimeoutMs: opts.workerTimeoutMs, appTimeoutMs: opts.appTimeoutMs },
    'master listening',
  );
  const tenure = await Tenure.start(opts, published, log);
  const { leadership } = tenure;
  const status = (): MasterStatus => ({
    ...tenure.serviceStatus(),
    uptimeMs: Math.max(0, opts.now() - startedAt),
    ha: leadership.status(),
    connections: server.stats(),
  });
  router
    // Which roles may call each method is the access table's (src/security/access.ts); the router checks it.
    .on(RegisterWorker, (req) => tenure.leading().registerWorker(req))
    .on(WorkerHeartbeat, (req) => tenure.leading().workerHeartbeat(req))
    .on(RequestSlots, async (req, conn) => {
      checkApplication(conn, req.appId);
      return (await tenure.afterGrace()).requestSlots(req);
    })
    .on(ApplicationHeartbeat, (req, conn) => {
      checkApplication(conn, req.appId);
      return tenure.leading().applicationHeartbeat(req);
    })
    .on(UnregisterShuffle, (req, conn) => {
      checkApplication(conn, req.appId);
      return tenure.leading().unregisterShuffle(req);
    })
    // The cluster's state is the leader's; a standby's own status is on its HTTP /status.
    // An operator (admin role) sees the whole cluster, an application its own part (statusView).
    .on(GetStatus, (_req, conn) => {
      tenure.leading();
      return { json: Buffer.from(JSON.stringify(statusView(status(), conn))) };
    })
    // Served by every master, leading or not: clients find the leader with it.
    .on(MasterInfo, () => {
      const leader = leadership.leader();
      return { role: leadership.role(), leader: leader?.address ?? '', term: leader?.term ?? 0 };
    });

  const timer = setInterval(() => tenure.tick(), sweepPeriodMs(opts.workerTimeoutMs, opts.appTimeoutMs));
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    address,
    status,
    reloadTls: () => opts.security.tls?.reload(),
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        // Resign first: a standby takes over while this server still redirects clients to it.
        await tenure.close();
        await server.close();
        log.info('master stopped');
      })();
      return closing;
    },
  };
}
