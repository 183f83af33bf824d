/**
 * Shared fixture for the transport tests: real servers on 127.0.0.1 port 0,
 * hand-driven raw sockets for hostile or silent peers, and an afterEach that
 * closes everything and then checks that nothing leaked — no TCP handle
 * beyond the test's baseline, and no timer created by src/transport still
 * alive (unref'd timers included, which getActiveResourcesInfo() hides).
 */
import { createHook } from 'node:async_hooks';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, expect } from 'vitest';
import {
  BraidError,
  FrameDecoder,
  MessageType,
  PROTOCOL_VERSION,
  Role,
  decodeMessage,
  encodeFrame,
  type Address,
  type Message,
  type MessageOfType,
} from '../../src/protocol/index.js';
import { handshakeProof, newNonce } from '../../src/security/keys.js';
import { Connection, TransportServer, connect, type ConnectOptions, type ServerOptions } from '../../src/transport/index.js';

// ---- timer leak tracking ----

/** Every Timeout created by a file under src/transport, with its call site. */
const transportTimers = new Set<{ timer: WeakRef<object>; where: string }>();

/**
 * Call sites of the transport timers still scheduled. A Timeout is done once
 * Node marks it destroyed (fired or cleared) or it was collected; we read
 * the mark instead of using a destroy hook, which would make async_hooks
 * track the destruction of every promise and slow the tests down a lot.
 */
function liveTransportTimers(): string[] {
  const live: string[] = [];
  for (const t of transportTimers) {
    const timer = t.timer.deref();
    if (timer === undefined || Reflect.get(timer, '_destroyed') === true) transportTimers.delete(t);
    else live.push(t.where);
  }
  return live;
}

/**
 * Where the Timeout being created comes from, if that is a file under
 * src/transport. Reads V8's call sites directly: formatting `new Error().stack`
 * would run the test runner's source-map rewriting for every timer.
 */
function transportCreator(): string | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_err, sites) => sites;
  Error.stackTraceLimit = 16;
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder);
  const sites = holder.stack; // formatted lazily: read it while our prepareStackTrace is in place
  Error.prepareStackTrace = prepare;
  Error.stackTraceLimit = limit;
  if (!Array.isArray(sites)) return undefined;
  // The first frame outside node internals and this file is whoever called setTimeout/setInterval.
  for (const site of sites as NodeJS.CallSite[]) {
    const file = site.getFileName() ?? '';
    if (file === '' || file.startsWith('node:') || file.endsWith('harness.ts')) continue;
    return file.includes('/src/transport/') ? `${file}:${site.getLineNumber() ?? '?'}` : undefined;
  }
  return undefined;
}

createHook({
  init(_asyncId, type, _triggerAsyncId, resource) {
    if (type !== 'Timeout') return;
    const where = transportCreator();
    if (where !== undefined) transportTimers.add({ timer: new WeakRef(resource), where });
  },
}).enable();

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}

// ---- small utilities ----

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string | (() => string), timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(5);
  }
}

/** Resolves with the error a connection closes with (undefined for a plain close). */
export function closedWith(conn: Connection): Promise<BraidError | undefined> {
  if (conn.isClosed) return Promise.resolve(undefined);
  return new Promise((resolve) => conn.once('close', resolve));
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Settles `p` into a value we can assert on, so a rejection is never left unhandled. */
export function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** The BraidError a settled promise failed with; fails the test if it succeeded or threw anything else. */
export function failure(r: Settled<unknown>): BraidError {
  if (r.ok) throw new Error(`expected a failure, got ${String(r.value)}`);
  expect(r.error).toBeInstanceOf(BraidError);
  return r.error as BraidError;
}

let gcFn: (() => void) | undefined;
/**
 * Live ArrayBuffer bytes after full garbage collections. Two collections in a
 * row: the second cannot start before the first has finished sweeping the
 * dead ArrayBuffers, which it otherwise does concurrently, still counting them.
 */
export function liveArrayBuffers(): number {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().arrayBuffers;
}

// ---- raw peers ----

/**
 * A socket driven by hand: frames are encoded and decoded with the protocol
 * package, but nothing answers automatically (no pongs, no acks), so it can
 * play a silent, hostile or out-of-spec peer.
 */
export class RawPeer {
  readonly frames: Message[] = [];
  readonly closed: Promise<void>;
  error: Error | undefined;
  private readonly decoder = new FrameDecoder();
  private waiters: (() => void)[] = [];
  private isClosed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (f) => this.frames.push(decodeMessage(f.type, f.header, f.body)));
      this.wake();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  send(message: Message): void {
    const { head, body } = encodeFrame(message);
    this.socket.write(body === undefined ? head : Buffer.concat([head, body])); // copy: test-only framing
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Removes and returns the first received frame of `type`, waiting for it. */
  next<T extends MessageType>(type: T, timeoutMs = 2000): Promise<MessageOfType<T>> {
    return this.nextOf([type], timeoutMs);
  }

  /** Removes and returns the first received frame of any of `types`, waiting for it. */
  async nextOf<T extends MessageType>(types: readonly T[], timeoutMs = 2000): Promise<MessageOfType<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((m) => (types as readonly number[]).includes(m.type));
      if (i >= 0) return this.frames.splice(i, 1)[0] as MessageOfType<T>;
      if (this.isClosed) throw new Error(`peer closed before a frame of type ${types.join('/')} arrived`);
      if (Date.now() > deadline) throw new Error(`no frame of type ${types.join('/')} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /**
   * Runs the client side of the handshake by hand: Handshake, then (if
   * challenged) a HandshakeProof made with `key` (an empty proof without
   * one); returns the server's ack, whether it accepts or refuses.
   */
  async handshake(fields: Partial<MessageOfType<typeof MessageType.Handshake>> = {}, key?: string): Promise<MessageOfType<typeof MessageType.HandshakeAck>> {
    const hello = { type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.LifecycleManager, appId: 'app', nonce: newNonce(), ...fields } as const;
    this.send(hello);
    const first = await this.nextOf([MessageType.HandshakeChallenge, MessageType.HandshakeAck]);
    if (first.type === MessageType.HandshakeAck) return first;
    const transcript = { clientRole: hello.role, serverRole: first.role, appId: hello.appId, clientNonce: hello.nonce, serverNonce: first.nonce, binding: Buffer.alloc(0) };
    this.send({ type: MessageType.HandshakeProof, proof: key === undefined ? Buffer.alloc(0) : handshakeProof(key, 'client', transcript) });
    return this.next(MessageType.HandshakeAck);
  }

  /**
   * Plays the server side of the handshake by hand (no authentication):
   * waits for the Handshake, challenges, waits for the proof, then sends
   * the ack with `ack` fields; `challenge` fields change the challenge.
   */
  async serveHandshake(ack: Partial<MessageOfType<typeof MessageType.HandshakeAck>> = {}, challenge: Partial<MessageOfType<typeof MessageType.HandshakeChallenge>> = {}): Promise<void> {
    await this.next(MessageType.Handshake);
    this.send({ type: MessageType.HandshakeChallenge, version: PROTOCOL_VERSION, role: Role.Master, auth: false, nonce: newNonce(), ...challenge });
    await this.next(MessageType.HandshakeProof);
    this.send(ackFrame(ack));
  }

  /** Resolves true if the peer closed the socket within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.closed.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return r;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** A listening socket whose accepted connections are handed over as RawPeers. */
export interface RawServer {
  address: Address;
  peers: RawPeer[];
  close(): Promise<void>;
}

/** The HandshakeAck a well-behaved server would send. */
export function ackFrame(fields: Partial<MessageOfType<typeof MessageType.HandshakeAck>> = {}): Message {
  return { type: MessageType.HandshakeAck, version: PROTOCOL_VERSION, role: Role.Master, ok: true, code: '', message: '', heartbeatIntervalMs: 0, proof: Buffer.alloc(0), ...fields };
}

// ---- the fixture ----

export interface Harness {
  /** A TransportServer on 127.0.0.1:0, closed after the test. */
  server(options: ServerOptions): Promise<TransportServer>;
  /** A client connection, closed after the test. */
  client(address: Address, options?: Partial<ConnectOptions>): Promise<Connection>;
  /** A raw socket to `address`, destroyed after the test. */
  raw(address: Address): Promise<RawPeer>;
  /** A raw listening socket, closed after the test. */
  rawServer(onPeer?: (peer: RawPeer) => void): Promise<RawServer>;
  /** Registers an extra cleanup step, run before the standard ones. */
  defer(cleanup: () => unknown): void;
}

/** Installs beforeEach/afterEach hooks and returns the fixture for the test file. */
export function useTransportHarness(): Harness {
  let servers: TransportServer[] = [];
  let clients: Connection[] = [];
  let raws: RawPeer[] = [];
  let rawServers: { server: Server; peers: RawPeer[] }[] = [];
  let deferred: (() => unknown)[] = [];
  let baselineHandles = 0;

  beforeEach(() => {
    baselineHandles = tcpHandles();
  });

  afterEach(async () => {
    for (const f of deferred.reverse()) await f();
    for (const c of clients) c.close();
    for (const r of raws) r.destroy();
    for (const rs of rawServers) {
      for (const p of rs.peers) p.destroy();
      await new Promise<void>((resolve) => rs.server.close(() => resolve()));
    }
    for (const s of servers) {
      await s.close();
      expect(s.connections.size, 'server connections after close()').toBe(0);
    }
    servers = [];
    clients = [];
    raws = [];
    rawServers = [];
    deferred = [];
    await waitFor(() => tcpHandles() <= baselineHandles, () => `TCP handles to return to ${baselineHandles} (now ${tcpHandles()})`);
    await waitFor(() => liveTransportTimers().length === 0, () => `transport timers to end: ${liveTransportTimers().join('; ')}`, 500);
  });

  return {
    async server(options) {
      const s = await TransportServer.listen({ host: '127.0.0.1', port: 0, ...options });
      servers.push(s);
      return s;
    },
    async client(address, options = {}) {
      // A LifecycleManager may call the control methods these tests serve (see the access table).
      const c = await connect(address, { role: Role.LifecycleManager, appId: 'app', ...options });
      clients.push(c);
      return c;
    },
    async raw(address) {
      const socket = netConnect({ host: address.host, port: address.port });
      const peer = new RawPeer(socket);
      raws.push(peer);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      return peer;
    },
    async rawServer(onPeer) {
      const peers: RawPeer[] = [];
      const server = createServer((socket) => {
        const peer = new RawPeer(socket);
        peers.push(peer);
        onPeer?.(peer);
      });
      rawServers.push({ server, peers });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const a = server.address();
      if (a === null || typeof a === 'string') throw new Error('raw server has no TCP address');
      return {
        address: { host: '127.0.0.1', port: a.port },
        peers,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
    },
    defer(cleanup) {
      deferred.push(cleanup);
    },
  };
}
