import { CLUSTER_NAME_RE } from '../../ha/leadership.js';
import { BraidError, ErrorCodes } from '../../protocol/index.js';
import { resolveServerSecurity, type ServerSecurity, type ServerSecurityOptions } from '../../security/server-security.js';
import { DEFAULT_LIVENESS, checkLiveness } from '../../transport/index.js';
import { resolveMasterQuotas, type MasterQuotaLimits } from './quotas.js';

export type SlotStrategyName = 'roundrobin' | 'loadaware';

export interface MasterOptions extends ServerSecurityOptions {
  /** The address to listen on (0.0.0.0: every interface). */
  host?: string;
  /** The host the master advertises (status, ready line); default `host` (see transport/advertise.ts). */
  advertiseHost?: string;
  /** Or: advertise the address of this network interface. */
  advertiseInterface?: string;
  /** TCP port; 0 picks a free one (read it from `MasterHandle.address`). */
  port?: number;
  /** A worker silent for longer than this is marked lost and gets no new slots. */
  workerTimeoutMs?: number;
  /** An application silent for longer than this expires; its shuffles are deleted on every worker. */
  appTimeoutMs?: number;
  /**
   * How often workers should heartbeat; sent to them in the RegisterWorker
   * answer. Defaults to 5000, or a third of workerTimeoutMs when that is shorter.
   */
  heartbeatIntervalMs?: number;
  slotStrategy?: SlotStrategyName;
  /**
   * Whether replicas are placed at all. Applications ask for replication; a
   * cluster that turns it off (e.g. a single worker) gives primaries only.
   */
  replicate?: boolean;
  /** Cluster-wide quotas (defaults: MASTER_QUOTA_DEFAULTS). */
  quotas?: Partial<MasterQuotaLimits>;
  /**
   * etcd endpoints (`host:port` or URLs). Given, the master is a candidate in
   * an election and serves only while it leads; empty, it runs alone.
   */
  etcd?: readonly string[];
  /** TTL of the leader's etcd lease, whole seconds in milliseconds: a dead leader is replaced about this long after. */
  leaseTtlMs?: number;
  /** Names the cluster in etcd: its keys live under `/braid/<clusterName>/`. */
  clusterName?: string;
  /** A new leader's grace period: it rebuilds its view from heartbeats, and slot requests wait until it ends. */
  leaderGraceMs?: number;
  /** Clock in milliseconds; tests may pass their own. */
  now?: () => number;
  /** Idle connections send a ping this often. */
  pingIntervalMs?: number;
  /** A connection silent (not even a pong) this long is closed as dead. */
  deadPeerTimeoutMs?: number;
  /** Kept for symmetry with the other roles: the master opens no connections today. */
  connectTimeoutMs?: number;
}

export type ResolvedMasterOptions = Required<Omit<MasterOptions, 'quotas' | keyof ServerSecurityOptions>> & { quotas: MasterQuotaLimits; security: ServerSecurity };

export const MASTER_DEFAULTS: Omit<ResolvedMasterOptions, 'security' | 'quotas'> = {
  host: '127.0.0.1',
  advertiseHost: '',
  advertiseInterface: '',
  port: 0,
  workerTimeoutMs: 30_000,
  appTimeoutMs: 60_000,
  heartbeatIntervalMs: 5_000,
  slotStrategy: 'roundrobin',
  replicate: true,
  etcd: [],
  leaseTtlMs: 10_000,
  clusterName: 'braid',
  leaderGraceMs: 10_000,
  now: Date.now,
  ...DEFAULT_LIVENESS,
};

const STRATEGIES: readonly SlotStrategyName[] = ['roundrobin', 'loadaware'];
const U32_MAX = 0xffff_ffff;

function configError(message: string): BraidError {
  return new BraidError(ErrorCodes.CONFIG, message, { retriable: false });
}

function positiveInt(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw configError(`options.${name} must be an integer between 1 and ${max}, got ${String(value)}`);
  }
  return value;
}

/** Fills in defaults and checks every option; errors name the option at fault. */
export function resolveMasterOptions(options: MasterOptions = {}): ResolvedMasterOptions {
  if (typeof options !== 'object' || options === null) throw configError('options must be an object');
  const { authSecret, insecure, tls, limits, quotas, ...rest } = options;
  const o = { ...MASTER_DEFAULTS };
  for (const [k, v] of Object.entries(rest)) {
    // An explicit undefined means "the default", as if the key were absent.
    if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  }
  if (typeof o.host !== 'string' || o.host === '') throw configError(`options.host must be a non-empty string, got ${String(o.host)}`);
  if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw configError(`options.port must be an integer between 0 and 65535, got ${String(o.port)}`);
  }
  positiveInt('workerTimeoutMs', o.workerTimeoutMs);
  if (options.heartbeatIntervalMs === undefined) {
    // A short worker timeout (tests, small clusters) brings the interval down with it.
    o.heartbeatIntervalMs = Math.min(MASTER_DEFAULTS.heartbeatIntervalMs, Math.max(1, Math.floor(o.workerTimeoutMs / 3)));
  }
  positiveInt('appTimeoutMs', o.appTimeoutMs);
  // The interval travels as a u32 in the RegisterWorker answer.
  positiveInt('heartbeatIntervalMs', o.heartbeatIntervalMs, U32_MAX);
  if (o.heartbeatIntervalMs >= o.workerTimeoutMs) {
    // Otherwise every worker would be declared lost between two heartbeats.
    throw configError(
      `options.heartbeatIntervalMs (${o.heartbeatIntervalMs}) must be less than options.workerTimeoutMs (${o.workerTimeoutMs})`,
    );
  }
  if (!STRATEGIES.includes(o.slotStrategy)) {
    throw configError(`options.slotStrategy must be one of ${STRATEGIES.join(', ')}, got ${String(o.slotStrategy)}`);
  }
  if (typeof o.replicate !== 'boolean') throw configError(`options.replicate must be a boolean, got ${typeof o.replicate}`);
  if (!Array.isArray(o.etcd) || !o.etcd.every((e) => typeof e === 'string' && e !== '')) {
    throw configError('options.etcd must be a list of etcd endpoints (host:port or URLs)');
  }
  positiveInt('leaseTtlMs', o.leaseTtlMs);
  if (o.leaseTtlMs % 1000 !== 0 || o.leaseTtlMs < 2000) {
    // etcd leases have whole-second TTLs, and a leader needs a few keepalives per TTL.
    throw configError(`options.leaseTtlMs must be whole seconds, at least 2000, got ${o.leaseTtlMs}`);
  }
  if (typeof o.clusterName !== 'string' || !CLUSTER_NAME_RE.test(o.clusterName)) {
    throw configError(`options.clusterName must be 1 to 64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(o.clusterName)}`);
  }
  if (typeof o.leaderGraceMs !== 'number' || !Number.isInteger(o.leaderGraceMs) || o.leaderGraceMs < 0) {
    throw configError(`options.leaderGraceMs must be an integer >= 0, got ${String(o.leaderGraceMs)}`);
  }
  if (typeof o.now !== 'function') throw configError(`options.now must be a function, got ${typeof o.now}`);
  for (const k of ['advertiseHost', 'advertiseInterface'] as const) {
    if (typeof o[k] !== 'string') throw configError(`options.${k} must be a string, got ${typeof o[k]}`);
  }
  checkLiveness(o, (option, problem) => {
    throw configError(`options.${option}: ${problem}`);
  });
  return { ...o, quotas: resolveMasterQuotas(quotas), security: resolveServerSecurity('master', { authSecret, insecure, tls, limits }) };
}
