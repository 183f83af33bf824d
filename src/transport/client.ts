import { connect as netConnect } from 'node:net';
import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, toErrorCode, type Address, type Role } from '../protocol/index.js';
import { Connection, DEFAULT_CONNECTION_OPTIONS, type ConnectionOptions } from './connection.js';
import { awaitHandshakeFrame, versionError } from './handshake.js';

/** A live host on a real network accepts within milliseconds; a host that is cut off never answers. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface ConnectOptions {
  role: Role;
  appId?: string;
  token?: string;
  connectTimeoutMs?: number;
  connection?: Partial<ConnectionOptions>;
}

/** Opens a connection and completes the handshake; resolves once the server has accepted it. */
export async function connect(address: Address, options: ConnectOptions): Promise<Connection> {
  const connOptions: ConnectionOptions = { ...DEFAULT_CONNECTION_OPTIONS, ...options.connection };
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const socket = netConnect({ host: address.host, port: address.port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new BraidError(ErrorCodes.CONNECT, `connect to ${address.host}:${address.port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new BraidError(ErrorCodes.CONNECT, `connect to ${address.host}:${address.port} failed: ${err.message}`, { cause: err }));
    });
  });
  const conn = new Connection(socket, connOptions);
  let closeReason: BraidError | undefined;
  conn.once('close', (err) => {
    closeReason = err;
  });
  const ackPromise = awaitHandshakeFrame(conn, MessageType.HandshakeAck, timeoutMs);
  conn.send({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: options.role, appId: options.appId ?? '', token: options.token ?? '' });
  const ack = await ackPromise;
  if (!ack.ok) {
    const err = new BraidError(toErrorCode(ack.code), `handshake refused by ${address.host}:${address.port}: ${ack.message}`);
    conn.close(err);
    throw err;
  }
  const mismatch = versionError(ack.version);
  if (mismatch) {
    conn.close(mismatch);
    throw mismatch;
  }
  if (conn.isClosed) {
    // Frames that followed the ack in the same read (e.g. a request, which
    // this connection has no handler for yet) have already failed it.
    throw closeReason ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${address.host}:${address.port} closed right after the handshake`);
  }
  conn.peerRole = ack.role;
  conn.appId = options.appId ?? '';
  conn.startHeartbeats(ack.heartbeatIntervalMs > 0 ? Math.min(ack.heartbeatIntervalMs, connOptions.heartbeatIntervalMs || ack.heartbeatIntervalMs) : connOptions.heartbeatIntervalMs);
  return conn;
}
