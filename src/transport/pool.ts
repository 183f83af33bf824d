import { BraidError, ErrorCodes, addressKey, type Address } from '../protocol/index.js';
import { connect, type ConnectOptions } from './client.js';
import type { Connection } from './connection.js';

/**
 * One connection per remote address, opened on first use (single-flight) and
 * opened again after it closes.
 */
export class ConnectionPool {
  private readonly conns = new Map<string, Promise<Connection>>();
  private closed = false;

  constructor(private readonly options: ConnectOptions) {}

  get(address: Address): Promise<Connection> {
    // After close() a get() must fail, not open a connection only to close it:
    // callers retry on the closed connection they would get, forever.
    if (this.closed) return Promise.reject(poolClosed());
    const key = addressKey(address);
    const existing = this.conns.get(key);
    if (existing) return existing;
    const opening = connect(address, this.options).then(
      (conn) => {
        conn.once('close', () => {
          if (this.conns.get(key) === opening) this.conns.delete(key);
        });
        if (this.closed) {
          conn.close();
          throw poolClosed();
        }
        return conn;
      },
      (err: unknown) => {
        // Only our own entry: after evict() a newer connection may stand here.
        if (this.conns.get(key) === opening) this.conns.delete(key);
        throw err;
      },
    );
    this.conns.set(key, opening);
    return opening;
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
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close(), () => undefined)));
  }
}

function poolClosed(): BraidError {
  return new BraidError(ErrorCodes.CONNECTION_CLOSED, 'connection pool is closed', { retriable: false });
}
