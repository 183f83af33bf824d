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
import { EtcdElection } from '../../ha/etcd-election.js';
import { AloneLeadership, notLeading, type Leadership } from '../../ha/leadership.js';
import { componentLogger } from '../../log/index.js';
import { RpcRouter, TransportServer, checkApplication, checkRole, clusterAuthenticator, type Connection, type InboundRequest } from '../../transport/index.js';
import { resolveMasterOptions, type MasterOptions, type ResolvedMasterOptions } from './options.js';
import { MasterService } from './service.js';
import { idleStatus, type MasterStatus } from './status.js';

export interface MasterHandle {
  /** Where the master listens (the real port when started on port 0). */
  readonly address: Address;
  status(): MasterStatus;
  /** Stops the timers, resigns the leadership, and closes the server and every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * The address a leader publishes in etcd, which standbys name to clients.
 * The one place to change when masters bind one address and advertise another.
 */
export function publishedAddress(bound: Address, _options: ResolvedMasterOptions): Address {
  return bound;
}

/** Only workers (and operators' tools) may register and heartbeat as workers. */
const WORKER_ROLES = [Role.Worker, Role.Admin] as const;

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
  const router = new RpcRouter(deps.observeRpc);
  const server = await TransportServer.listen({
    host: opts.host,
    port: opts.port,
    role: Role.Master,
    authenticate: clusterAuthenticator(opts.authToken),
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
  const published = publishedAddress(address, opts);
  const self = addressKey(published);
  const log = componentLogger('master', { master: self });

  // The service of the current term: created when this master starts to lead, dropped when it stops.
  let service: MasterService | undefined;
  let leadership: Leadership;
  if (opts.etcd.length === 0) {
    leadership = new AloneLeadership(self);
    service = new MasterService(opts, published);
  } else {
    const election = new EtcdElection({ endpoints: opts.etcd, prefix: `/braid/${opts.clusterName}/`, ttlSeconds: opts.leaseTtlMs / 1000, self, log });
    election.on('elected', () => (service = new MasterService(opts, published, opts.leaderGraceMs)));
    election.on('stepped-down', () => (service = undefined));
    leadership = election;
    log.info({ etcd: opts.etcd, cluster: opts.clusterName, leaseTtlMs: opts.leaseTtlMs }, 'master is a candidate for leader');
    election.start();
  }

  /** The leader's service, or the refusal naming the leader. Asked on every request: the lease can lapse between events. */
  const leading = (): MasterService => {
    if (service === undefined || !leadership.isLeader()) throw notLeading(leadership.leader());
    return service;
  };
  /** Slot requests wait out a new leader's grace period, then are served by whoever leads by then. */
  const afterGrace = async (): Promise<MasterService> => {
    let s = leading();
    for (let left = s.graceRemainingMs(); left > 0; left = s.graceRemainingMs()) {
      await new Promise((r) => setTimeout(r, left));
      s = leading();
    }
    return s;
  };
  const status = (): MasterStatus => ({
    ...(service !== undefined && leadership.isLeader() ? service.status() : idleStatus(published, opts.slotStrategy)),
    uptimeMs: Math.max(0, opts.now() - startedAt),
    ha: leadership.status(),
  });

  router
    .on(RegisterWorker, (req, conn) => {
      checkRole(conn, WORKER_ROLES, 'RegisterWorker');
      return leading().registerWorker(req);
    })
    .on(WorkerHeartbeat, (req, conn) => {
      checkRole(conn, WORKER_ROLES, 'WorkerHeartbeat');
      return leading().workerHeartbeat(req);
    })
    .on(RequestSlots, async (req, conn) => {
      checkApplication(conn, req.appId);
      return (await afterGrace()).requestSlots(req);
    })
    .on(ApplicationHeartbeat, (req, conn) => {
      checkApplication(conn, req.appId);
      return leading().applicationHeartbeat(req);
    })
    .on(UnregisterShuffle, (req, conn) => {
      checkApplication(conn, req.appId);
      return leading().unregisterShuffle(req);
    })
    // The cluster's state is the leader's; a standby's own status is on its HTTP /status.
    .on(GetStatus, () => {
      leading();
      return { json: Buffer.from(JSON.stringify(status())) };
    })
    // Served by every master, leading or not: clients find the leader with it.
    .on(MasterInfo, () => {
      const leader = leadership.leader();
      return { role: leadership.role(), leader: leader?.address ?? '', term: leader?.term ?? 0 };
    });

  const timer = setInterval(() => {
    if (leadership.isLeader()) service?.sweep();
  }, sweepPeriodMs(opts.workerTimeoutMs, opts.appTimeoutMs));
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    address,
    status,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        // Resign first: a standby takes over while this server still redirects clients to it.
        await leadership.close();
        await server.close();
      })();
      return closing;
    },
  };
}
