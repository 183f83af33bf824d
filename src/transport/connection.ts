import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { moduleLogger } from '../log/index.js';
import { roleName } from '../security/access.js';
import {
  BraidError,
  DEFAULT_DECODER_LIMITS,
  ErrorCodes,
  FrameDecoder,
  MessageType,
  ProtocolError,
  asBraidError,
  decodeMessage,
  decodeValue,
  encodeFrame,
  encodeValue,
  messageName,
  toErrorCode,
  type DecoderLimits,
  type Message,
  type MessageOfType,
  type RawFrame,
  type RpcMethod,
} from '../protocol/index.js';

const log = moduleLogger('transport');

export interface ConnectionOptions {
  /** Default timeout of every request on this connection. */
  requestTimeoutMs: number;
  /** Send a ping after this long without sending anything; 0 turns heartbeats off. */
  heartbeatIntervalMs: number;
  /** Close the connection when nothing was received for this long (while reading is not paused). */
  deadPeerTimeoutMs: number;
  limits: DecoderLimits;
}

/**
 * Which deadline detects what. A peer that vanishes without closing (a host
 * cut off, a frozen VM) is found by silence: both sides ping an idle
 * connection every second and answer pings at once, so five seconds without
 * a single frame means the peer is gone, whatever requests are pending. That
 * needs no short request timeouts, which would fail big transfers on a slow
 * but live link; those stay at a minute and only catch a peer that is alive
 * but stuck. TCP keepalive (set on every socket) is the kernel's backstop.
 */
export const DEFAULT_CONNECTION_OPTIONS: ConnectionOptions = {
  requestTimeoutMs: 60_000,
  heartbeatIntervalMs: 1000,
  deadPeerTimeoutMs: 5000,
  limits: DEFAULT_DECODER_LIMITS,
};

/** Messages that a peer sends us as requests; everything else is a response or transport-internal. */
export type InboundRequest =
  | MessageOfType<typeof MessageType.RpcRequest>
  | MessageOfType<typeof MessageType.PushData>
  | MessageOfType<typeof MessageType.PushMergedData>
  | MessageOfType<typeof MessageType.OpenStream>
  | MessageOfType<typeof MessageType.ChunkFetchRequest>;

type Response = MessageOfType<
  typeof MessageType.RpcResponse | typeof MessageType.RpcFailure | typeof MessageType.PushResponse | typeof MessageType.StreamHandle
>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request message before the connection gives it an id. */
export type OutboundRequest = DistributiveOmit<
  MessageOfType<typeof MessageType.RpcRequest | typeof MessageType.PushData | typeof MessageType.PushMergedData | typeof MessageType.OpenStream>,
  'requestId'
>;

interface Pending<T> {
  resolve(value: T): void;
  reject(err: BraidError): void;
  timer: NodeJS.Timeout;
}

export interface ConnectionEvents {
  request: [message: InboundRequest];
  close: [error: BraidError | undefined];
}

/**
 * One framed connection, symmetric: either side may send requests. Owns the
 * decoder, request correlation (64-bit request ids; chunk fetches by
 * (streamId, chunkIndex)), timeouts, idle heartbeats and dead-peer detection.
 * Inbound requests are emitted as 'request'; the owner answers with reply().
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly remote: string;
  /** Proven by the peer's handshake (server side), or the server's role from its ack (client side). */
  peerRole = 0;
  appId = '';
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending<Response>>();
  private readonly pendingChunks = new Map<string, Pending<Buffer>>();
  private nextRequestId = 1;
  private closed = false;
  private paused = false;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastCheck = 0;
  private drainWaiters: (() => void)[] = [];
  private corked = false;
  private readonly uncorkTurn = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
  /** Set by the owner during the handshake phase to see the handshake frames. */
  onControlFrame: ((message: Message) => void) | undefined;

  constructor(
    readonly socket: Socket,
    readonly options: ConnectionOptions = DEFAULT_CONNECTION_OPTIONS,
  ) {
    super();
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.decoder = new FrameDecoder(options.limits);
    socket.setNoDelay(true);
    // The kernel's own probe of an idle peer, behind our pings (which also cover a connection with data in flight).
    socket.setKeepAlive(true, Math.max(1000, options.deadPeerTimeoutMs));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.flushDrainWaiters());
    socket.on('error', (err) => this.close(new BraidError(ErrorCodes.CONNECTION_CLOSED, `socket error: ${err.message}`, { cause: err })));
    socket.on('close', () => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** When the last bytes arrived (Date.now()). */
  get lastReceivedAt(): number {
    return this.lastReceived;
  }

  /** Changes the frame limits from the next frame on (e.g. raised once the handshake is done). */
  setLimits(limits: DecoderLimits): void {
    this.decoder.setLimits(limits);
  }

  get inFlight(): number {
    return this.pending.size + this.pendingChunks.size;
  }

  startHeartbeats(intervalMs = this.options.heartbeatIntervalMs): void {
    // A closed connection must not get a timer: close() has already run and would never clear it.
    if (intervalMs <= 0 || this.heartbeatTimer || this.closed) return;
    const tick = Math.max(10, Math.min(intervalMs, this.options.deadPeerTimeoutMs) / 2);
    this.lastCheck = Date.now();
    this.heartbeatTimer = setInterval(() => this.checkLiveness(intervalMs, tick), tick);
    this.heartbeatTimer.unref();
  }

  private checkLiveness(intervalMs: number, tick: number): void {
    const now = Date.now();
    // A tick far later than scheduled means our own event loop stalled (GC,
    // CPU starvation, long synchronous work). Frames the peer sent meanwhile
    // may still be unread and it could not hear our pings: that silence is
    // ours, so it does not count against the peer.
    const stalled = now - this.lastCheck - tick;
    if (stalled > tick) this.lastReceived = Math.min(now, this.lastReceived + stalled);
    this.lastCheck = now;
    if (!this.paused && now - this.lastReceived > this.options.deadPeerTimeoutMs) {
      const silentMs = now - this.lastReceived;
      log().warn({ peer: this.remote, peerRole: roleName(this.peerRole), silentMs, pending: this.inFlight }, 'peer silent: connection closed as dead');
      this.close(new BraidError(ErrorCodes.PEER_DEAD, `no frame from ${this.remote} for ${silentMs} ms`));
      return;
    }
    if (now - this.lastSent >= intervalMs) this.send({ type: MessageType.Heartbeat, pong: false });
  }

  // ---- writing ----

  /**
   * Writes one frame: head and body as separate Buffers under cork, so the
   * body is never copied into the head. Returns false when the socket's
   * buffer is full; callers that produce data should `await writable()`.
   */
  send(message: Message, onWritten?: () => void): boolean {
    if (this.closed) {
      onWritten?.();
      return false;
    }
    const { head, body } = encodeFrame(message);
    const s = this.socket;
    // The socket stays corked until the end of this turn of the event loop: every frame sent in
    // the turn (a worker answering a burst of pushes) leaves in one gathered write, not one each.
    if (!this.corked) {
      this.corked = true;
      s.cork();
      setImmediate(this.uncorkTurn);
    }
    // `onWritten` runs once the socket is done with the frame (written, or failed with the socket):
    // only then may the body's memory be reused.
    if (body !== undefined && body.length > 0) {
      s.write(head);
      s.write(body, onWritten);
    } else s.write(head, onWritten);
    this.lastSent = Date.now();
    return !s.writableNeedDrain;
  }

  /** Resolves when the socket can take more data (at once if it can now). */
  writable(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private flushDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  // ---- requests ----

  /** Sends a request and waits for its answer (waiting for 'drain' first). Sets `requestId` on `message`. */
  async request(message: OutboundRequest, timeoutMs = this.options.requestTimeoutMs): Promise<Response> {
    if (this.closed) throw new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${this.remote} is closed`);
    const requestId = this.nextRequestId++;
    // The timer closure must not capture `message`: that would pin its body
    // (up to a whole push) in memory until the answer comes, long after it was written.
    const what = messageName(message.type);
    const promise = new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(requestId)) {
          reject(new BraidError(ErrorCodes.TIMEOUT, `${what} to ${this.remote} timed out after ${timeoutMs} ms`));
        }
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
    });
    // The deadline runs from here, waiting for 'drain' included: a peer that
    // stays alive but stops reading must not hold a request forever.
    const settled = promise.then(noop, noop);
    await Promise.race([this.writable(), settled]);
    if (!this.pending.has(requestId)) return promise; // timed out, or the connection closed, while waiting
    // The id is stamped on the caller's object: spreading it into a new object
    // costs V8's slow path and a new hidden class per request (~18k instructions).
    const framed = message as OutboundRequest & { requestId: number };
    framed.requestId = requestId;
    try {
      this.send(framed as Message);
    } catch (err) {
      // Nothing was written (encoding failed): drop the entry, or its timer or close() would reject a promise nobody holds.
      forget(this.pending, requestId);
      throw err;
    }
    return promise;
  }

  /** A typed control call. Failures arrive as BraidError with the remote's code. */
  async call<Req, Res>(method: RpcMethod<Req, Res>, request: Req, timeoutMs?: number): Promise<Res> {
    const body = encodeValue(method.request, request);
    const res = await this.request({ type: MessageType.RpcRequest, method: method.id, body }, timeoutMs);
    if (res.type === MessageType.RpcResponse) {
      if (res.method !== method.id) throw new ProtocolError(`response to ${method.name} carries method ${res.method}`);
      return decodeValue(method.response, res.body, `${method.name} response`);
    }
    throw unexpectedResponse(res, method.name);
  }

  /** Fetches one chunk; several may be in flight per stream. */
  async fetchChunk(streamId: number, chunkIndex: number, timeoutMs = this.options.requestTimeoutMs): Promise<Buffer> {
    if (this.closed) throw new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${this.remote} is closed`);
    const key = chunkKey(streamId, chunkIndex);
    if (this.pendingChunks.has(key)) throw new BraidError(ErrorCodes.INVALID_REQUEST, `chunk ${key} is already being fetched`);
    const promise = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pendingChunks.delete(key)) reject(new BraidError(ErrorCodes.TIMEOUT, `chunk ${key} from ${this.remote} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingChunks.set(key, { resolve, reject, timer });
    });
    const settled = promise.then(noop, noop);
    await Promise.race([this.writable(), settled]);
    if (this.pendingChunks.get(key) === undefined) return promise; // timed out or closed while waiting
    try {
      this.send({ type: MessageType.ChunkFetchRequest, streamId, chunkIndex });
    } catch (err) {
      forget(this.pendingChunks, key);
      throw err;
    }
    return promise;
  }

  /** Answers an inbound request; see send() for `onWritten`. */
  reply(message: Message, onWritten?: () => void): boolean {
    return this.send(message, onWritten);
  }

  /** Answers an inbound request that carries a request id with a coded failure. */
  replyFailure(requestId: number, err: unknown): boolean {
    const e = asBraidError(err);
    return this.send({ type: MessageType.RpcFailure, requestId, code: e.code, message: e.message, retriable: e.retriable });
  }

  // ---- reading ----

  /** Stops reading the socket: TCP backpressure reaches the sender. */
  pauseReading(): void {
    if (this.paused || this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.lastReceived = Date.now();
    this.socket.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    try {
      this.decoder.push(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      const e = asBraidError(err, ErrorCodes.PROTOCOL);
      log().warn({ peer: this.remote, peerRole: roleName(this.peerRole), code: e.code, reason: e.message }, 'protocol violation: connection closed');
      this.close(e);
    }
  }

  private onFrame(frame: RawFrame): void {
    if (this.closed) return;
    const message = decodeMessage(frame.type, frame.header, frame.body);
    switch (message.type) {
      case MessageType.RpcResponse:
      case MessageType.RpcFailure:
      case MessageType.PushResponse:
      case MessageType.StreamHandle: {
        const p = this.pending.get(message.requestId);
        if (p === undefined) return; // late answer to a timed-out request
        this.pending.delete(message.requestId);
        clearTimeout(p.timer);
        if (message.type === MessageType.RpcFailure) p.reject(remoteError(message));
        else p.resolve(message);
        return;
      }
      case MessageType.ChunkFetchSuccess:
      case MessageType.ChunkFetchFailure: {
        const key = chunkKey(message.streamId, message.chunkIndex);
        const p = this.pendingChunks.get(key);
        if (p === undefined) return;
        this.pendingChunks.delete(key);
        clearTimeout(p.timer);
        if (message.type === MessageType.ChunkFetchSuccess) p.resolve(message.body);
        else p.reject(new BraidError(toErrorCode(message.code), message.message, { retriable: message.retriable }));
        return;
      }
      case MessageType.Heartbeat:
        if (!message.pong) this.send({ type: MessageType.Heartbeat, pong: true });
        return;
      case MessageType.Handshake:
      case MessageType.HandshakeChallenge:
      case MessageType.HandshakeProof:
      case MessageType.HandshakeAck:
        if (this.onControlFrame === undefined) throw new ProtocolError(`unexpected ${messageName(message.type)}`);
        this.onControlFrame(message);
        return;
      default:
        if (this.listenerCount('request') === 0) throw new ProtocolError(`${messageName(message.type)} not accepted on this connection`);
        this.emit('request', message);
    }
  }

  /** Closes the connection; every pending request fails with `error` (or CONNECTION_CLOSED). */
  close(error?: BraidError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const failure = error ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${this.remote} closed`);
    const retriable = new BraidError(failure.code, failure.message, { retriable: true, cause: failure });
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(retriable);
    }
    for (const p of this.pendingChunks.values()) {
      clearTimeout(p.timer);
      p.reject(retriable);
    }
    this.pending.clear();
    this.pendingChunks.clear();
    this.flushDrainWaiters();
    // Frames sent this turn (e.g. the failure that explains this close) leave before the socket goes.
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    this.socket.destroy();
    this.emit('close', error);
  }
}

function forget<K, T>(pending: Map<K, Pending<T>>, key: K): void {
  const p = pending.get(key);
  if (p === undefined) return;
  clearTimeout(p.timer);
  pending.delete(key);
}

function noop(): void {}

function chunkKey(streamId: number, chunkIndex: number): string {
  return `${streamId}/${chunkIndex}`;
}

function remoteError(m: MessageOfType<typeof MessageType.RpcFailure>): BraidError {
  return new BraidError(toErrorCode(m.code), m.message, { retriable: m.retriable });
}

export function unexpectedResponse(res: Response, what: string): BraidError {
  if (res.type === MessageType.RpcFailure) return remoteError(res);
  return new ProtocolError(`unexpected ${messageName(res.type)} in answer to ${what}`);
}
