import { parseMasters, type MasterAddresses } from '../../ha/master-addresses.js';
import { BraidError, ErrorCodes, type Address } from '../../protocol/index.js';
import { resolveServerSecurity, type ServerSecurity, type ServerSecurityOptions } from '../../security/server-security.js';
import { DEFAULT_LIVENESS, checkLiveness } from '../../transport/index.js';
import { resolveWorkerQuotas, type WorkerQuotaLimits } from './quotas.js';

export interface WorkerOptions extends ServerSecurityOptions {
  /** The address to listen on (0.0.0.0: every interface). */
  host?: string;
  /** The host the master and clients are told to connect to; default `host` (see transport/advertise.ts). */
  advertiseHost?: string;
  /** Or: advertise the address of this network interface. */
  advertiseInterface?: string;
  port?: number;
  /**
   * The master to register with, or every master of a cluster with high
   * availability (the worker follows the leader); without it the worker runs
   * alone (tests, tools).
   */
  master?: MasterAddresses;
  dataDirs: string[];
  /** Above this many buffered bytes, push sockets stop being read. */
  memoryLimit?: number;
  /** Reading resumes below memoryLimit × lowWatermark. */
  lowWatermark?: number;
  /** Replica sockets pause only above memoryLimit × replicaWatermark. */
  replicaWatermark?: number;
  chunkSize?: number;
  flushThreshold?: number;
  splitThreshold?: number;
  hardSplitLimit?: number;
  diskReserve?: number;
  chunkCacheSize?: number;
  maxChunksInFlight?: number;
  heartbeatIntervalMs?: number;
  /** How long a replica peer that failed is failed fast without trying it. */
  deadPeerBackoffMs?: number;
  replicaTimeoutMs?: number;
  sortThreads?: number;
  /** Where committed-file metadata is kept; default `<dataDirs[0]>/.braid-meta`. */
  metaStorePath?: string;
  /** External shuffle service: bytes of map output index files cached (LRU). */
  essIndexCacheBytes?: number;
  /** External shuffle service: chunks being transferred at once; past it fetches fail SERVER_BUSY. */
  essMaxChunksBeingTransferred?: number;
  /**
   * External shuffle service: executors' local directories must lie inside
   * one of these directories (symlinks resolved). Empty (the default): the
   * service takes no executor registration.
   */
  essLocalDirRoots?: string[];
  /** Per-application quotas on this worker (defaults: WORKER_QUOTA_DEFAULTS). */
  quotas?: Partial<WorkerQuotaLimits>;
  /** An idle connection sends a ping this often. */
  pingIntervalMs?: number;
  /** A connection silent (not even a pong) for this long is closed as dead. */
  deadPeerTimeoutMs?: number;
  /** Connecting to the master or a replica peer. */
  connectTimeoutMs?: number;
  /** A graceful stop waits at most this long for the commits of the shuffles it holds (0: not at all). */
  drainTimeoutMs?: number;
  /** A decommission serves reads at most this long before the worker exits anyway. */
  decommissionTimeoutMs?: number;
}

export type ResolvedWorkerOptions = Required<Omit<WorkerOptions, 'master' | 'metaStorePath' | 'quotas' | keyof ServerSecurityOptions>> & {
  /** Empty: no master. */
  masters: readonly Address[];
  metaStorePath: string | undefined;
  quotas: WorkerQuotaLimits;
  security: ServerSecurity;
};

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const WORKER_DEFAULTS = {
  host: '127.0.0.1',
  advertiseHost: '',
  advertiseInterface: '',
  port: 0,
  memoryLimit: 1 * GiB,
  lowWatermark: 0.75,
  replicaWatermark: 1.25,
  chunkSize: 8 * MiB,
  flushThreshold: 1 * MiB,
  splitThreshold: 1 * GiB,
  hardSplitLimit: 4 * GiB,
  diskReserve: 1 * GiB,
  chunkCacheSize: 256 * MiB,
  maxChunksInFlight: 64,
  heartbeatIntervalMs: 5000,
  deadPeerBackoffMs: 10_000,
  replicaTimeoutMs: 30_000,
  sortThreads: 2,
  essIndexCacheBytes: 64 * MiB,
  essMaxChunksBeingTransferred: 64,
  essLocalDirRoots: [] as string[],
  ...DEFAULT_LIVENESS,
  drainTimeoutMs: 30_000,
  decommissionTimeoutMs: 6 * 3600_000,
} as const;

function fail(option: string, message: string): never {
  throw new BraidError(ErrorCodes.CONFIG, `worker option "${option}": ${message}`);
}

function check(ok: boolean, option: string, message: string): void {
  if (!ok) fail(option, message);
}

export function resolveWorkerOptions(o: WorkerOptions): ResolvedWorkerOptions {
  const { authSecret, insecure, tls, limits, quotas, ...given } = o;
  const r = { ...WORKER_DEFAULTS, ...stripUndefined(given) } as ResolvedWorkerOptions & { master?: MasterAddresses };
  check(Array.isArray(o.dataDirs) && o.dataDirs.length > 0, 'dataDirs', 'at least one data directory is required');
  check(Number.isInteger(r.port) && r.port >= 0 && r.port <= 65535, 'port', `expected 0..65535, got ${r.port}`);
  for (const k of ['memoryLimit', 'chunkSize', 'flushThreshold', 'splitThreshold', 'hardSplitLimit', 'maxChunksInFlight', 'heartbeatIntervalMs', 'replicaTimeoutMs', 'sortThreads'] as const) {
    check(Number.isFinite(r[k]) && r[k] > 0, k, `expected a positive number, got ${r[k]}`);
  }
  check(Number.isSafeInteger(r.essIndexCacheBytes) && r.essIndexCacheBytes >= 0, 'essIndexCacheBytes', `expected an integer ≥ 0 (0 turns the cache off), got ${r.essIndexCacheBytes}`);
  check(Number.isSafeInteger(r.essMaxChunksBeingTransferred) && r.essMaxChunksBeingTransferred > 0, 'essMaxChunksBeingTransferred', `expected a positive integer, got ${r.essMaxChunksBeingTransferred}`);
  check(Array.isArray(r.essLocalDirRoots) && r.essLocalDirRoots.every((d) => typeof d === 'string' && d.length > 0), 'essLocalDirRoots', 'expected a list of directories');
  check(Number.isFinite(r.diskReserve) && r.diskReserve >= 0, 'diskReserve', `expected ≥ 0, got ${r.diskReserve}`);
  check(Number.isFinite(r.chunkCacheSize) && r.chunkCacheSize >= 0, 'chunkCacheSize', `expected ≥ 0 (0 turns the cache off), got ${r.chunkCacheSize}`);
  check(r.chunkSize <= 32 * MiB, 'chunkSize', `at most 32 MiB so a chunk frame stays under the 64 MiB frame limit, got ${r.chunkSize}`);
  check(r.lowWatermark >= 0 && r.lowWatermark < 1, 'lowWatermark', `expected a ratio in [0, 1), got ${r.lowWatermark}`);
  check(r.replicaWatermark >= 1, 'replicaWatermark', `expected a ratio ≥ 1, got ${r.replicaWatermark}`);
  check(r.hardSplitLimit >= r.splitThreshold, 'hardSplitLimit', `must be ≥ splitThreshold (${r.splitThreshold})`);
  checkLiveness(r, fail);
  for (const k of ['drainTimeoutMs', 'decommissionTimeoutMs'] as const) check(Number.isInteger(r[k]) && r[k] >= 0, k, `expected an integer ≥ 0 (milliseconds), got ${r[k]}`);
  let masters: Address[] = [];
  try {
    if (o.master !== undefined) masters = parseMasters(o.master);
  } catch (err) {
    check(false, 'master', `expected host:port or a list of them, got ${JSON.stringify(o.master)} (${(err as Error).message})`);
  }
  const { master: _given, ...rest } = r;
  return {
    ...rest,
    masters,
    metaStorePath: o.metaStorePath,
    quotas: resolveWorkerQuotas(quotas),
    security: resolveServerSecurity('worker', { authSecret, insecure, tls, limits }),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
