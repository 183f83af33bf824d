import { componentLogger } from '../../log/index.js';
import {
  ApplicationHeartbeat,
  BraidError,
  ErrorCodes,
  GetStatus,
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
import { MasterService } from './service.js';
import { statusView, type MasterStatus } from './status.js';

export interface MasterHandle {
  /** Where the master listens (the real port when started on port 0). */
  readonly address: Address;
  /** The whole status, as an operator sees it (cluster-wide). */
  status(): MasterStatus;
  /** Reads the TLS files again (new certificate for new connections); throws, changing nothing, if they are unusable. */
  reloadTls(): void;
  /** Stops the timers and closes the server and every connection. Idempotent. */
  close(): Promise<void>;
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
  const log = componentLogger('master', { master: addressKey(address) });
  log.info(
    { listen: `${opts.host}:${address.port}`, advertised: addressKey(address), workerTimeoutMs: opts.workerTimeoutMs, appTimeoutMs: opts.appTimeoutMs },
    'master listening',
  );
  const service = new MasterService(opts, address, () => server.stats(), log);
  router
    // Which roles may call each method is the access table's (src/security/access.ts); the router checks it.
    .on(RegisterWorker, (req) => service.registerWorker(req))
    .on(WorkerHeartbeat, (req) => service.workerHeartbeat(req))
    .on(RequestSlots, (req, conn) => {
      checkApplication(conn, req.appId);
      return service.requestSlots(req);
    })
    .on(ApplicationHeartbeat, (req, conn) => {
      checkApplication(conn, req.appId);
      return service.applicationHeartbeat(req);
    })
    .on(UnregisterShuffle, (req, conn) => {
      checkApplication(conn, req.appId);
      return service.unregisterShuffle(req);
    })
    .on(GetStatus, (_req, conn) => ({ json: Buffer.from(JSON.stringify(statusView(service.status(), conn))) }));

  const timer = setInterval(() => service.sweep(), sweepPeriodMs(opts.workerTimeoutMs, opts.appTimeoutMs));
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    address,
    status: () => service.status(),
    reloadTls: () => opts.security.tls?.reload(),
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await server.close();
        log.info('master stopped');
      })();
      return closing;
    },
  };
}
