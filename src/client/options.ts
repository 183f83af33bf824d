import { BraidError, ErrorCodes, parseAddress, type Address } from '../protocol/index.js';
import { TlsMaterial, type TlsInput } from '../security/tls.js';
import { DEFAULT_LIVENESS, checkLiveness } from '../transport/index.js';

export type CompressionName = 'lz4' | 'zstd' | 'none';

export interface ShuffleClientOptions {
  appId: string;
  /** The LifecycleManager of this application (host:port or an address). */
  lifecycleManager: Address | string;
  compression?: CompressionName;
  /** 'inline' compresses on this thread's async path; 'pool' in piscina threads, batched. */
  compressionMode?: 'inline' | 'pool';
  zstdLevel?: number;
  /** Push requests in flight to one worker / in total; callers wait beyond them. */
  maxInFlightPerWorker?: number;
  maxInFlightTotal?: number;
  /** Merged pushes are sent once a worker's buffer reaches this many bytes. */
  mergeBufferSize?: number;
  pushTimeoutMs?: number;
  /** Connecting and the handshake, to a worker or the LifecycleManager. */
  connectTimeoutMs?: number;
  /** An idle connection sends a ping this often. */
  pingIntervalMs?: number;
  /** A connection silent (not even a pong) this long is closed as dead: its pushes revive elsewhere, its reads go to the other copy. */
  deadPeerTimeoutMs?: number;
  /** A worker found dead is not connected to again for this long (pushes revive elsewhere at once; reads prefer the other copy). */
  deadPeerBackoffMs?: number;
  /** Times one batch is revived and sent again before the push fails. */
  maxPushRetries?: number;
  /** Chunk requests in flight per stream while reading. */
  fetchAhead?: number;
  fetchTimeoutMs?: number;
  /** Stage attempt reported with fetch failures. */
  stageAttemptId?: number;
  /** The application's key, applicationKey(secret, appId); '' for a cluster without authentication. */
  authToken?: string;
  /** TLS to the workers and the LifecycleManager: at least the CA (files, so task processes can be told). */
  tls?: TlsInput;
}

export type ResolvedClientOptions = Required<Omit<ShuffleClientOptions, 'lifecycleManager' | 'tls'>> & { lifecycleManager: Address; tls: TlsMaterial | undefined };

export const CLIENT_DEFAULTS = {
  compression: 'lz4',
  compressionMode: 'inline',
  zstdLevel: 1,
  maxInFlightPerWorker: 16,
  maxInFlightTotal: 64,
  mergeBufferSize: 64 * 1024,
  pushTimeoutMs: 60_000,
  ...DEFAULT_LIVENESS,
  deadPeerBackoffMs: 10_000,
  maxPushRetries: 8,
  fetchAhead: 4,
  fetchTimeoutMs: 120_000,
  stageAttemptId: 0,
  authToken: '',
} as const;

function fail(option: string, message: string): never {
  throw new BraidError(ErrorCodes.CONFIG, `ShuffleClient option "${option}": ${message}`);
}

export function resolveClientOptions(o: ShuffleClientOptions): ResolvedClientOptions {
  if (typeof o.appId !== 'string' || o.appId === '') fail('appId', 'a non-empty application id is required');
  if (o.lifecycleManager === undefined) fail('lifecycleManager', 'the LifecycleManager address is required');
  const r = { ...CLIENT_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as ResolvedClientOptions & { lifecycleManager: Address | string };
  if (!['lz4', 'zstd', 'none'].includes(r.compression)) fail('compression', `expected lz4, zstd or none, got "${r.compression}"`);
  if (!['inline', 'pool'].includes(r.compressionMode)) fail('compressionMode', `expected inline or pool, got "${r.compressionMode}"`);
  for (const k of ['maxInFlightPerWorker', 'maxInFlightTotal', 'mergeBufferSize', 'pushTimeoutMs', 'connectTimeoutMs', 'fetchAhead', 'fetchTimeoutMs'] as const) {
    if (!Number.isInteger(r[k]) || r[k] <= 0) fail(k, `expected a positive integer, got ${r[k]}`);
  }
  checkLiveness(r, fail);
  if (!Number.isInteger(r.deadPeerBackoffMs) || r.deadPeerBackoffMs < 0) fail('deadPeerBackoffMs', `expected an integer ≥ 0, got ${r.deadPeerBackoffMs}`);
  if (!Number.isInteger(r.maxPushRetries) || r.maxPushRetries < 0) fail('maxPushRetries', `expected an integer ≥ 0, got ${r.maxPushRetries}`);
  if (!Number.isInteger(r.zstdLevel) || r.zstdLevel < 1 || r.zstdLevel > 19) fail('zstdLevel', `expected 1..19, got ${r.zstdLevel}`);
  const lifecycleManager = typeof o.lifecycleManager === 'string' ? parseAddress(o.lifecycleManager) : o.lifecycleManager;
  return { ...r, lifecycleManager, tls: TlsMaterial.resolve(o.tls) };
}
