import { createServer, type Server, type Socket } from 'node:net';
import { debuglog } from 'node:util';
import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, asBraidError, type Address, type Role } from '../protocol/index.js';
import { Connection, DEFAULT_CONNECTION_OPTIONS, type ConnectionOptions, type InboundRequest } from './connection.js';
import { isKnownRole, roleName } from '../security/access.js';
import { onHandshakeFrame, versionError, type Authenticator, type HandshakeMessage } from './handshake.js';

const trace = debuglog('braid:transport');

export interface ServerOptions {
  host?: string;
  port?: number;
  role: Role;
  /** Called for every request on every accepted connection. */
  onRequest(message: InboundRequest, conn: Connection): void;
  /** Called once a connection has completed its handshake. */
  onConnection?(conn: Connection): void;
  authenticate?: Authenticator;
  /** The roles this server serves; a handshake declaring any other role is refused. Default: every defined role. */
  roles?: readonly Role[];
  handshakeTimeoutMs?: number;
  connection?: Partial<ConnectionOptions>;
}

/**
 * A framed TCP server. Each connection must open with a Handshake; a protocol
 * violation closes that connection only, and the server keeps serving others.
 */
export class TransportServer {
  readonly connections = new Set<Connection>();
  private readonly sockets = new Set<Socket>();
  private readonly connOptions: ConnectionOptions;

  private constructor(
    private readonly server: Server,
    private readonly options: ServerOptions,
  ) {
    this.connOptions = { ...DEFAULT_CONNECTION_OPTIONS, ...options.connection };
  }

  static async listen(options: ServerOptions): Promise<TransportServer> {
    const server = createServer({ noDelay: true });
    const ts = new TransportServer(server, options);
    server.on('connection', (socket) => ts.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return ts;
  }

  get address(): Address {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new BraidError(ErrorCodes.INTERNAL, 'server is not listening on TCP');
    return { host: this.options.host ?? '127.0.0.1', port: a.port };
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const conn = new Connection(socket, this.connOptions);
    // The handshake is handled inside the decoder's loop, synchronously: a
    // request the client pipelined right behind it (same read) finds the
    // request listener already attached, and is served in order.
    onHandshakeFrame(conn, MessageType.Handshake, this.options.handshakeTimeoutMs ?? 10_000, (hs) => this.onHandshake(conn, socket, hs), (err) =>
      trace('handshake with %s failed: %s', conn.remote, err.message),
    );
  }

  private onHandshake(conn: Connection, socket: Socket, hs: HandshakeMessage): void {
    const refusal = versionError(hs.version) ?? this.roleError(hs.role) ?? this.options.authenticate?.(hs);
    const ack = {
      type: MessageType.HandshakeAck,
      version: PROTOCOL_VERSION,
      role: this.options.role,
      heartbeatIntervalMs: this.connOptions.heartbeatIntervalMs,
    } as const;
    if (refusal) {
      conn.send({ ...ack, ok: false, code: refusal.code, message: refusal.message });
      socket.end();
      // Give the ack a moment to reach the peer, but leave no timer behind once the socket is gone.
      const linger = setTimeout(() => conn.close(refusal), 1000).unref();
      conn.once('close', () => clearTimeout(linger));
      return;
    }
    conn.peerRole = hs.role;
    conn.appId = hs.appId;
    this.connections.add(conn);
    conn.once('close', (err) => {
      this.connections.delete(conn);
      if (err) trace('connection %s closed: %s %s', conn.remote, err.code, err.message);
    });
    conn.on('request', (message) => {
      try {
        this.options.onRequest(message, conn);
      } catch (err) {
        // A handler bug fails this connection, not the server.
        conn.close(asBraidError(err));
      }
    });
    conn.startHeartbeats();
    conn.send({ ...ack, ok: true, code: '', message: '' });
    this.options.onConnection?.(conn);
  }

  /** Only defined roles that this server serves get past the handshake. */
  private roleError(role: number): BraidError | undefined {
    const served = this.options.roles;
    if (isKnownRole(role) && (served === undefined || served.includes(role))) return undefined;
    return new BraidError(ErrorCodes.HANDSHAKE, `${isKnownRole(role) ? roleName(role) : `unknown role ${role}`} connections are not served here`, { retriable: false });
  }

  /** Stops accepting, closes every connection, and resolves when the listener is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) conn.close(new BraidError(ErrorCodes.SHUTTING_DOWN, 'server shutting down'));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
