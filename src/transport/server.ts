import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { debuglog } from 'node:util';
import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, asBraidError, encodeFrame, type Address, type Role } from '../protocol/index.js';
import type { TlsMaterial } from '../security/tls.js';
import { Connection, DEFAULT_CONNECTION_OPTIONS, type ConnectionOptions, type InboundRequest } from './connection.js';
import { DEFAULT_PRE_AUTH_FRAME_BYTES, preAuthLimits, type ServerAuth } from './handshake.js';
import { serverHandshake } from './handshake-server.js';

const trace = debuglog('braid:transport');

/** Bounds on what connections, authenticated or not, may hold of a server. */
export interface ServerLimits {
  /** The whole handshake (TLS included) must be done within this. */
  handshakeTimeoutMs: number;
  /** An unauthenticated connection silent for this long is closed. */
  unauthenticatedIdleMs: number;
  /** Largest frame accepted before the peer is authenticated. */
  preAuthFrameBytes: number;
  /** Open connections at once, authenticated or not; more are refused. */
  maxConnections: number;
  /** Open connections at once from one remote address. */
  maxConnectionsPerAddress: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  handshakeTimeoutMs: 10_000,
  unauthenticatedIdleMs: 5_000,
  preAuthFrameBytes: DEFAULT_PRE_AUTH_FRAME_BYTES,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1_000,
};

export interface ServerOptions {
  host?: string;
  /** The host peers are told (see advertise.ts); default `host`. */
  advertiseHost?: string;
  port?: number;
  role: Role;
  /** Called for every request on every accepted connection. */
  onRequest(message: InboundRequest, conn: Connection): void;
  /** Called once a connection has completed its handshake. */
  onConnection?(conn: Connection): void;
  /** How peers prove who they are; undefined runs without authentication (roles and appIds as declared). */
  auth?: ServerAuth;
  /** The roles this server serves; a handshake declaring any other role is refused. Default: every defined role. */
  roles?: readonly Role[];
  /** Listen with TLS (cluster roles must then present a client certificate of the CA). */
  tls?: TlsMaterial;
  limits?: Partial<ServerLimits>;
  connection?: Partial<ConnectionOptions>;
}

/** Why connections were refused, by error code, since start (for metrics and status). */
export type Refusals = Record<string, number>;

export interface ConnectionStats {
  /** TCP connections open now, authenticated or not. */
  open: number;
  /** Of those, the ones past the handshake. */
  authenticated: number;
  /** Connections refused since start, by error code (limits, failed handshakes, TLS). */
  refused: Refusals;
}

/**
 * A framed TCP (or TLS) server. Each connection must open with the
 * handshake; a protocol violation closes that connection only, and the
 * server keeps serving others.
 */
export class TransportServer {
  readonly connections = new Set<Connection>();
  readonly refusals: Refusals = {};
  private readonly sockets = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  private readonly connOptions: ConnectionOptions;
  private readonly limits: ServerLimits;
  private detachTls: (() => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: ServerOptions,
  ) {
    this.connOptions = { ...DEFAULT_CONNECTION_OPTIONS, ...options.connection };
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  }

  static async listen(options: ServerOptions): Promise<TransportServer> {
    const limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    const tls = options.tls;
    const server = tls === undefined ? createServer({ noDelay: true }) : createTlsServer({ ...tls.serverOptions(), handshakeTimeout: limits.handshakeTimeoutMs });
    const ts = new TransportServer(server, options);
    // Limits are counted on the raw TCP connection, before TLS: a refused
    // connection costs no TLS handshake.
    server.on('connection', (socket: Socket) => ts.admit(socket));
    if (tls !== undefined) {
      server.on('secureConnection', (socket: TLSSocket) => ts.accept(socket));
      // A failed TLS handshake (wrong CA, garbage, timeout) ends that socket only. A reset is not a
      // refusal (the peer left, or the limits above dropped it).
      server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNRESET') ts.count(ErrorCodes.TLS, `TLS handshake failed: ${err.message}`);
      });
      ts.detachTls = tls.attach(server as ReturnType<typeof createTlsServer>);
    }
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
    return { host: this.options.advertiseHost ?? this.options.host ?? '127.0.0.1', port: a.port };
  }

  stats(): ConnectionStats {
    return { open: this.sockets.size, authenticated: this.connections.size, refused: { ...this.refusals } };
  }

  get tls(): boolean {
    return this.options.tls !== undefined;
  }

  private count(code: string, why: string): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1;
    trace('connection refused: %s', why);
  }

  /** Counts a new TCP connection against the limits; refuses it when over. */
  private admit(socket: Socket): void {
    const from = socket.remoteAddress ?? '?';
    const fromThere = this.perAddress.get(from) ?? 0;
    const over =
      this.sockets.size >= this.limits.maxConnections
        ? `${this.limits.maxConnections} connections are open`
        : fromThere >= this.limits.maxConnectionsPerAddress
          ? `${this.limits.maxConnectionsPerAddress} connections from ${from} are open`
          : undefined;
    if (over !== undefined) {
      this.count(ErrorCodes.TOO_MANY_CONNECTIONS, over);
      if (this.tls) {
        // Answering would first cost a TLS handshake, which is what the limit protects.
        socket.destroy();
        return;
      }
      const refusal = { type: MessageType.HandshakeAck, version: PROTOCOL_VERSION, role: this.options.role, ok: false, code: ErrorCodes.TOO_MANY_CONNECTIONS, message: `refused: ${over}`, heartbeatIntervalMs: 0, proof: Buffer.alloc(0) } as const;
      socket.on('error', () => undefined);
      socket.end(encodeFrame(refusal).head);
      socket.setTimeout(1000, () => socket.destroy());
      return;
    }
    this.sockets.add(socket);
    this.perAddress.set(from, fromThere + 1);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const n = (this.perAddress.get(from) ?? 1) - 1;
      if (n === 0) this.perAddress.delete(from);
      else this.perAddress.set(from, n);
    });
    if (!this.tls) this.accept(socket);
  }

  /** Starts the handshake on an admitted connection (after TLS, when on). */
  private accept(socket: Socket): void {
    // Until the peer is authenticated it may make us hold only small frames.
    const conn = new Connection(socket, { ...this.connOptions, limits: preAuthLimits(this.limits.preAuthFrameBytes) });
    serverHandshake(
      conn,
      socket,
      {
        role: this.options.role,
        roles: this.options.roles,
        auth: this.options.auth,
        tls: this.tls,
        timeoutMs: this.limits.handshakeTimeoutMs,
        idleMs: this.limits.unauthenticatedIdleMs,
        heartbeatIntervalMs: this.connOptions.heartbeatIntervalMs,
      },
      (peer) => this.serve(conn, peer.role, peer.appId),
      (err) => this.count(err.code, `handshake with ${conn.remote} failed: ${err.message}`),
    );
  }

  /** An authenticated connection: raise its limits and hand its requests to the owner, from the very next frame on. */
  private serve(conn: Connection, role: Role, appId: string): void {
    conn.peerRole = role;
    conn.appId = appId;
    conn.setLimits(this.connOptions.limits);
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
    this.options.onConnection?.(conn);
  }

  /** Stops accepting, closes every connection, and resolves when the listener is closed. */
  async close(): Promise<void> {
    this.detachTls?.();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) conn.close(new BraidError(ErrorCodes.SHUTTING_DOWN, 'server shutting down'));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
