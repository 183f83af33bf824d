import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { BraidError, ErrorCodes, addressKey, type Address, type Role } from '../protocol/index.js';
import type { TlsMaterial } from '../security/tls.js';
import { Connection, DEFAULT_CONNECTION_OPTIONS, type ConnectionOptions } from './connection.js';
import { DEFAULT_PRE_AUTH_FRAME_BYTES, preAuthLimits } from './handshake.js';
import { clientHandshake } from './handshake-client.js';

/** A live host on a real network accepts within milliseconds; a host that is cut off never answers. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface ConnectOptions {
  role: Role;
  appId?: string;
  /**
   * The key this side proves in the handshake: the cluster secret for
   * cluster roles, the application key for application roles. Never sent.
   * Without one the client can only reach servers running without
   * authentication.
   */
  key?: string;
  /** Connect over TLS, checking the server's certificate against this CA (and presenting ours, if any). */
  tls?: TlsMaterial;
  connectTimeoutMs?: number;
  connection?: Partial<ConnectionOptions>;
}

/** TCP (or TLS) up, within the deadline; errors say which side failed and why. */
function open(address: Address, tls: TlsMaterial | undefined, timeoutMs: number): Promise<Socket> {
  const where = addressKey(address);
  const socket = tls === undefined ? netConnect({ host: address.host, port: address.port }) : tlsConnect({ host: address.host, port: address.port, ...tls.clientOptions(address.host) });
  const ready = tls === undefined ? 'connect' : 'secureConnect';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new BraidError(ErrorCodes.CONNECT, `connect to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      // Certificate and protocol problems are not worth retrying; a refused or reset connection (an
      // errno such as ECONNRESET: the server may be over its connection limit) is.
      const network = err.code !== undefined && /^E[A-Z]+$/.test(err.code);
      const tlsProblem = tls !== undefined && !network;
      reject(
        tlsProblem
          ? new BraidError(ErrorCodes.TLS, `TLS with ${where} failed: ${err.message}`, { retriable: false, cause: err })
          : new BraidError(
              ErrorCodes.CONNECT,
              `connect to ${where} failed: ${err.message}${tls !== undefined && err.code === 'ECONNRESET' ? ' (closed before TLS was set up: the server may be over its connection limits, or not listening with TLS)' : ''}`,
              { cause: err },
            ),
      );
    });
  });
}

/** Opens a connection and completes the handshake; resolves once the server has accepted it (and proven the key). */
export async function connect(address: Address, options: ConnectOptions): Promise<Connection> {
  const connOptions: ConnectionOptions = { ...DEFAULT_CONNECTION_OPTIONS, ...options.connection };
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const socket = await open(address, options.tls, timeoutMs);
  // Until the server is proven, it may send only small frames.
  const conn = new Connection(socket, { ...connOptions, limits: preAuthLimits(DEFAULT_PRE_AUTH_FRAME_BYTES) });
  let closeReason: BraidError | undefined;
  conn.once('close', (err) => {
    closeReason = err;
  });
  const appId = options.appId ?? '';
  const ack = await clientHandshake(conn, socket, { role: options.role, appId, key: options.key || undefined, timeoutMs, server: addressKey(address) }, () =>
    conn.setLimits(connOptions.limits),
  );
  if (conn.isClosed) {
    // Frames that followed the ack in the same read (e.g. a request, which
    // this connection has no handler for yet) have already failed it.
    throw closeReason ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${addressKey(address)} closed right after the handshake`);
  }
  conn.peerRole = ack.role;
  conn.appId = appId;
  conn.startHeartbeats(ack.heartbeatIntervalMs > 0 ? Math.min(ack.heartbeatIntervalMs, connOptions.heartbeatIntervalMs || ack.heartbeatIntervalMs) : connOptions.heartbeatIntervalMs);
  return conn;
}
