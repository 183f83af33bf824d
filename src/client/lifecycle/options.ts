import { parseMasters, type MasterAddresses } from '../../ha/master-addresses.js';
import { BraidError, ErrorCodes, type Address } from '../../protocol/index.js';
import { NO_SECRET_HELP } from '../../security/server-security.js';
import { TlsMaterial, type TlsInput } from '../../security/tls.js';
import { DEFAULT_LIVENESS, checkLiveness, type Liveness } from '../../transport/index.js';

export interface LifecycleManagerOptions {
  /** The application this manager serves; every client connection must declare it in its handshake. */
  appId: string;
  /**
   * The master, as an address or 'host:port'; with high availability every
   * master ('h1:p1,h2:p2' or a list): the manager follows the leader.
   */
  master: MasterAddresses;
  /**
   * The address to listen on. Default: 127.0.0.1 when the master is on
   * loopback, else the local address this host reaches the master from, so
   * that executors on other hosts can connect.
   */
  host?: string;
  /** The host clients are told to connect to; default `host` (see transport/advertise.ts). */
  advertiseHost?: string;
  /** Or: advertise the address of this network interface. */
  advertiseInterface?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** Keep a replica of every partition on a second worker. Default true. */
  replicate?: boolean;
  /** Bytes after which a worker answers SOFT_SPLIT; 0 keeps the worker's default. Default 0. */
  splitThreshold?: number;
  /** Fetch failures of one partition in one stage attempt that make the whole map stage re-run. Default 4. */
  maxFetchFailures?: number;
  /** Period of the application heartbeat to the master. Default 5000. */
  heartbeatIntervalMs?: number;
  /** How many times a failed reservation is retried on other workers. Default 3. */
  reserveRetries?: number;
  /** How long GetReducerFileGroup waits for the stage to end and commit. Default 120000. */
  getReducerFileGroupTimeoutMs?: number;
  /**
   * The application's key, applicationKey(secret, appId): proven to the
   * master and workers, and required from the application's clients.
   * Required unless `insecure`.
   */
  authToken?: string;
  /** Run without authentication (a cluster started with --insecure). Default false. */
  insecure?: boolean;
  /** TLS: the CA to check the cluster's certificates, and the certificate and key this manager listens with. */
  tls?: TlsInput;
  /** Told once per stage attempt when fetch failures reach maxFetchFailures: forget the shuffle's map outputs. */
  onUnregisterAllMapOutput?: (shuffleId: number) => void;
  /** Revive requests arriving within this window share one slot request (0 = same event-loop turn). Default 5. */
  reviveBatchWindowMs?: number;
  /** Timeout of each call to the master or a worker. Default 60000. */
  rpcTimeoutMs?: number;
  /**
   * How long the stage-end commit keeps asking a worker that does not answer
   * (timeouts, lost connections), with backoff, before that worker counts as
   * gone and its copies as not committed. Default 30000.
   */
  commitRetryMs?: number;
  /**
   * How long a call to the master looks for a leader (during a failover, or
   * while etcd is unreachable) before it fails with
   * BRAID_ERR_MASTER_UNAVAILABLE. Default 30000: longer than a lease TTL plus
   * a new leader's grace period at their defaults, shorter than a client's
   * wait for this manager's answer.
   */
  masterFailoverTimeoutMs?: number;
  /** An idle connection sends a ping this often. Default 1000. */
  pingIntervalMs?: number;
  /** A connection silent (not even a pong) this long is closed as dead. Default 5000. */
  deadPeerTimeoutMs?: number;
  /** Connecting to the master or a worker. Default 5000. */
  connectTimeoutMs?: number;
  /** A worker found dead is not connected to again (and gets no slots from us) for this long. Default 10000. */
  deadPeerBackoffMs?: number;
}

export interface ResolvedLifecycleManagerOptions {
  appId: string;
  masters: Address[];
  /** undefined: chosen at start (see LifecycleManagerOptions.host). */
  host: string | undefined;
  advertiseHost: string | undefined;
  advertiseInterface: string | undefined;
  port: number;
  replicate: boolean;
  splitThreshold: number;
  maxFetchFailures: number;
  heartbeatIntervalMs: number;
  reserveRetries: number;
  getReducerFileGroupTimeoutMs: number;
  authToken: string;
  insecure: boolean;
  tls: TlsMaterial | undefined;
  onUnregisterAllMapOutput: ((shuffleId: number) => void) | undefined;
  reviveBatchWindowMs: number;
  rpcTimeoutMs: number;
  commitRetryMs: number;
  masterFailoverTimeoutMs: number;
  pingIntervalMs: number;
  deadPeerTimeoutMs: number;
  connectTimeoutMs: number;
  deadPeerBackoffMs: number;
}

export const LIFECYCLE_DEFAULTS = {
  port: 0,
  replicate: true,
  splitThreshold: 0,
  maxFetchFailures: 4,
  heartbeatIntervalMs: 5000,
  reserveRetries: 3,
  getReducerFileGroupTimeoutMs: 120_000,
  authToken: '',
  insecure: false,
  reviveBatchWindowMs: 5,
  rpcTimeoutMs: 60_000,
  commitRetryMs: 30_000,
  masterFailoverTimeoutMs: 30_000,
  ...DEFAULT_LIVENESS,
  deadPeerBackoffMs: 10_000,
} as const;

/** Node timers fire at once for delays above 2^31-1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

function configError(name: string, rule: string, value: unknown): BraidError {
  let shown: string;
  try {
    shown = typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new BraidError(ErrorCodes.CONFIG, `options.${name} ${rule}, got ${shown}`);
}

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw configError(name, `must be an integer ${range}`, value);
  }
  return value;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw configError(name, 'must be a boolean', value);
  return value;
}

function string(name: string, value: unknown, nonEmpty: boolean): string {
  if (typeof value !== 'string' || (nonEmpty && value.length === 0)) {
    throw configError(name, nonEmpty ? 'must be a non-empty string' : 'must be a string', value);
  }
  return value;
}

function masterAddresses(value: unknown): Address[] {
  try {
    return parseMasters(value as MasterAddresses);
  } catch {
    throw configError('master', "must be an address, 'host:port', or a list of them", value);
  }
}

/** Authentication is on by default: a manager needs its application's key, or an explicit `insecure`. */
function security(options: LifecycleManagerOptions): { authToken: string; insecure: boolean; tls: TlsMaterial | undefined } {
  const authToken = string('authToken', options.authToken ?? LIFECYCLE_DEFAULTS.authToken, false);
  const insecure = boolean('insecure', options.insecure ?? LIFECYCLE_DEFAULTS.insecure);
  if (authToken === '' && !insecure) {
    throw new BraidError(ErrorCodes.CONFIG, `options.authToken: a lifecycle manager needs its application's key, applicationKey(secret, appId); ${NO_SECRET_HELP}`);
  }
  if (authToken !== '' && insecure) throw new BraidError(ErrorCodes.CONFIG, 'options.insecure contradicts options.authToken; set one of them');
  const tls = TlsMaterial.resolve(options.tls);
  if (tls !== undefined && !tls.canServe) throw new BraidError(ErrorCodes.CONFIG, 'options.tls: a lifecycle manager listens, so it needs a certificate and key as well as the CA');
  return { authToken, insecure, tls };
}

/** Applies defaults and validates every option; errors are BRAID_ERR_CONFIG naming the option. */
export function resolveLifecycleOptions(options: LifecycleManagerOptions): ResolvedLifecycleManagerOptions {
  if (typeof options !== 'object' || options === null) throw new BraidError(ErrorCodes.CONFIG, 'options must be an object');
  const d = LIFECYCLE_DEFAULTS;
  const callback = options.onUnregisterAllMapOutput;
  if (callback !== undefined && typeof callback !== 'function') throw configError('onUnregisterAllMapOutput', 'must be a function', callback);
  return {
    appId: string('appId', options.appId, true),
    masters: masterAddresses(options.master),
    host: options.host === undefined ? undefined : string('host', options.host, true),
    advertiseHost: options.advertiseHost === undefined ? undefined : string('advertiseHost', options.advertiseHost, false),
    advertiseInterface: options.advertiseInterface === undefined ? undefined : string('advertiseInterface', options.advertiseInterface, false),
    port: integer('port', options.port ?? d.port, 0, 65535),
    replicate: boolean('replicate', options.replicate ?? d.replicate),
    splitThreshold: integer('splitThreshold', options.splitThreshold ?? d.splitThreshold, 0),
    maxFetchFailures: integer('maxFetchFailures', options.maxFetchFailures ?? d.maxFetchFailures, 1),
    heartbeatIntervalMs: integer('heartbeatIntervalMs', options.heartbeatIntervalMs ?? d.heartbeatIntervalMs, 1, MAX_TIMER_MS),
    reserveRetries: integer('reserveRetries', options.reserveRetries ?? d.reserveRetries, 0),
    getReducerFileGroupTimeoutMs: integer('getReducerFileGroupTimeoutMs', options.getReducerFileGroupTimeoutMs ?? d.getReducerFileGroupTimeoutMs, 1, MAX_TIMER_MS),
    ...security(options),
    onUnregisterAllMapOutput: callback,
    reviveBatchWindowMs: integer('reviveBatchWindowMs', options.reviveBatchWindowMs ?? d.reviveBatchWindowMs, 0, MAX_TIMER_MS),
    rpcTimeoutMs: integer('rpcTimeoutMs', options.rpcTimeoutMs ?? d.rpcTimeoutMs, 1, MAX_TIMER_MS),
    commitRetryMs: integer('commitRetryMs', options.commitRetryMs ?? d.commitRetryMs, 0, MAX_TIMER_MS),
    masterFailoverTimeoutMs: integer('masterFailoverTimeoutMs', options.masterFailoverTimeoutMs ?? d.masterFailoverTimeoutMs, 0, MAX_TIMER_MS),
    ...liveness(options),
    deadPeerBackoffMs: integer('deadPeerBackoffMs', options.deadPeerBackoffMs ?? d.deadPeerBackoffMs, 0, MAX_TIMER_MS),
  };
}

function liveness(options: LifecycleManagerOptions): Liveness {
  const d = LIFECYCLE_DEFAULTS;
  const l = {
    pingIntervalMs: integer('pingIntervalMs', options.pingIntervalMs ?? d.pingIntervalMs, 1, MAX_TIMER_MS),
    deadPeerTimeoutMs: integer('deadPeerTimeoutMs', options.deadPeerTimeoutMs ?? d.deadPeerTimeoutMs, 1, MAX_TIMER_MS),
    connectTimeoutMs: integer('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs, 1, MAX_TIMER_MS),
  };
  checkLiveness(l, (name, problem) => {
    throw new BraidError(ErrorCodes.CONFIG, `options.${name} ${problem}`);
  });
  return l;
}
