import { DEFAULT_CONNECT_TIMEOUT_MS, type ConnectOptions } from './client.js';
import { DEFAULT_CONNECTION_OPTIONS, type ConnectionOptions } from './connection.js';

/**
 * The deadlines that find a peer gone silent, as every role takes them in its
 * options (see DEFAULT_CONNECTION_OPTIONS for which deadline detects what).
 */
export interface Liveness {
  /** An idle connection sends a ping this often. */
  pingIntervalMs: number;
  /** A connection that receives nothing, not even a pong, for this long is closed as dead. */
  deadPeerTimeoutMs: number;
  /** Opening a connection and its handshake. */
  connectTimeoutMs: number;
}

export const DEFAULT_LIVENESS: Liveness = {
  pingIntervalMs: DEFAULT_CONNECTION_OPTIONS.heartbeatIntervalMs,
  deadPeerTimeoutMs: DEFAULT_CONNECTION_OPTIONS.deadPeerTimeoutMs,
  connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
};

/** The connection settings of a server's accepted connections. */
export function serverLiveness(l: Liveness): Partial<ConnectionOptions> {
  return { heartbeatIntervalMs: l.pingIntervalMs, deadPeerTimeoutMs: l.deadPeerTimeoutMs };
}

/** The connect settings of a client's connections (`requestTimeoutMs` stays the caller's). */
export function clientLiveness(l: Liveness, requestTimeoutMs?: number): Pick<ConnectOptions, 'connectTimeoutMs' | 'connection'> {
  return {
    connectTimeoutMs: l.connectTimeoutMs,
    connection: { ...serverLiveness(l), ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }) },
  };
}

/** Checks the three deadlines of a role's resolved options; `fail` throws the role's config error naming the option (the problem ends with the value). */
export function checkLiveness(l: Liveness, fail: (option: keyof Liveness, problem: string) => never): void {
  for (const k of ['pingIntervalMs', 'deadPeerTimeoutMs', 'connectTimeoutMs'] as const) {
    if (!Number.isInteger(l[k]) || l[k] <= 0) fail(k, `must be a positive integer (milliseconds): ${String(l[k])}`);
  }
  // Two pings must fit in the timeout, or a healthy idle connection could be declared dead.
  if (l.deadPeerTimeoutMs < 2 * l.pingIntervalMs) fail('deadPeerTimeoutMs', `must be at least twice pingIntervalMs (${l.pingIntervalMs}): ${l.deadPeerTimeoutMs}`);
}
