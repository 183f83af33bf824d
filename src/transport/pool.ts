import { BraidError, ErrorCodes, addressKey, type Address } from '../protocol/index.js';
import { connect, type ConnectOptions } from './client.js';
import type { Connection } from './connection.js';

export interface PoolOptions extends ConnectOptions {
  /**
   * How long a peer stays suspect after it was found dead (silent past the
   * dead-peer timeout, or no connection within the connect timeout). While
   * it does, get() fails at once instead of waiting out another connect
   * timeout on a host that is gone; callers with somewhere else to go (a
   * replica, another worker) go there. 0 keeps no memory.
   */
  deadPeerBackoffMs?: number;
}

export interface GetOptions {
  /** Connect even to a suspect peer: the caller has no alternative (its LifecycleManager, the master). */
  evenIfSuspect?: boolean;
}

/**
 * How often a suspect peer is probed (one connection attempt at a time). A
 * peer is often found dead because this host, not the peer, was cut off: once
 * the network heals, the first probe that connects clears the suspicion, so
 * the peer is used again within about this long instead of after the whole
 * backoff (which, on a host back from a cut, made every replica look dead).
 */
const SUSPECT_PROBE_MS = 1000;

/**
 * One connection per remote address, opened on first use (single-flight) and
 * opened again after it closes.
 */
export class ConnectionPool {
  private readonly conns = new Map<string, Promise<Connection>>();
  /** Peers found dead, by address key: until when they count as suspect. */
  private readonly suspects = new Map<string, { address: Address; until: number }>();
  /** The pending probe of each suspect peer. */
  private readonly probes = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  get(address: Address, getOptions: GetOptions = {}): Promise<Connection> {
    // After close() a get() must fail, not open a connection only to close it:
    // callers retry on the closed connection they would get, forever.
    if (this.closed) return Promise.reject(poolClosed());
    const key = addressKey(address);
    const existing = this.conns.get(key);
    if (existing) return existing;
    const suspectUntil = this.suspectUntil(key);
    if (suspectUntil !== undefined && getOptions.evenIfSuspect !== true) {
      return Promise.reject(new BraidError(ErrorCodes.PEER_DEAD, `${key} was found dead; not tried again for ${suspectUntil - Date.now()} ms`));
    }
    const opening: Promise<Connection> = connect(address, this.options).then(
      (conn) => this.adopt(key, address, conn, opening),
      (err: unknown) => {
        // Only our own entry: after evict() a newer connection may stand here.
        if (this.conns.get(key) === opening) this.conns.delete(key);
        if (err instanceof BraidError && err.code === ErrorCodes.CONNECT) this.markDead(address);
        throw err;
      },
    );
    this.conns.set(key, opening);
    return opening;
  }

  /** A new connection to `address` stands for `entry` in the pool: the peer is alive. */
  private adopt(key: string, address: Address, conn: Connection, entry: Promise<Connection>): Connection {
    this.suspects.delete(key);
    conn.once('close', (err) => {
      if (this.conns.get(key) === entry) this.conns.delete(key);
      if (err?.code === ErrorCodes.PEER_DEAD) this.markDead(address);
    });
    if (this.closed) {
      conn.close();
      throw poolClosed();
    }
    return conn;
  }

  /**
   * Probes a suspect peer in the background until it connects (and joins the
   * pool) or its suspicion ends. A failed probe does not extend the suspicion:
   * only callers' own failures do, so probing a gone peer stops with its backoff.
   */
  private scheduleProbe(key: string, address: Address): void {
    if (this.closed || this.probes.has(key)) return;
    const timer = setTimeout(() => {
      this.probes.delete(key);
      if (this.closed || this.conns.has(key) || this.suspectUntil(key) === undefined) return;
      const probe: Promise<Connection> = connect(address, this.options).then(
        (conn) => {
          if (this.closed || this.conns.has(key)) {
            conn.close();
            return conn;
          }
          this.conns.set(key, probe);
          return this.adopt(key, address, conn, probe);
        },
        (err: unknown) => {
          this.scheduleProbe(key, address);
          throw err;
        },
      );
      probe.catch(() => undefined);
    }, SUSPECT_PROBE_MS);
    timer.unref();
    this.probes.set(key, timer);
  }

  /** Whether `address` was found dead within the backoff period. */
  isSuspect(address: Address): boolean {
    return this.suspectUntil(addressKey(address)) !== undefined;
  }

  /** Every peer that counts as suspect now. */
  suspectAddresses(): Address[] {
    const out: Address[] = [];
    for (const [key, s] of [...this.suspects]) if (this.suspectUntil(key) !== undefined) out.push(s.address);
    return out;
  }

  /** Records that `address` did not answer (a caller's own evidence, e.g. a request that timed out). */
  markDead(address: Address): void {
    const backoff = this.options.deadPeerBackoffMs ?? 0;
    if (backoff <= 0) return;
    const key = addressKey(address);
    this.suspects.set(key, { address: { host: address.host, port: address.port }, until: Date.now() + backoff });
    this.scheduleProbe(key, address);
  }

  private suspectUntil(key: string): number | undefined {
    const until = this.suspects.get(key)?.until;
    if (until === undefined) return undefined;
    if (Date.now() < until) return until;
    this.suspects.delete(key);
    return undefined;
  }

  /** Drops the cached connection to `address` (e.g. after a peer was declared dead). */
  evict(address: Address): void {
    const key = addressKey(address);
    const p = this.conns.get(key);
    this.conns.delete(key);
    p?.then((c) => c.close(), () => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.probes.values()) clearTimeout(timer);
    this.probes.clear();
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close(), () => undefined)));
  }
}

function poolClosed(): BraidError {
  return new BraidError(ErrorCodes.CONNECTION_CLOSED, 'connection pool is closed', { retriable: false });
}
