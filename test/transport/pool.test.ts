/**
 * ConnectionPool against real servers: single-flight opening, reconnect after
 * the peer closes, connect failures, eviction and close().
 */
import { createServer } from 'node:net';
import { describe, expect, test } from 'vitest';
import { ErrorCodes, GetStatus, MessageType, Role, type Address } from '../../src/protocol/index.js';
import { ConnectionPool, RpcRouter, type Connection, type TransportServer } from '../../src/transport/index.js';
import { closedWith, failure, settle, sleep, useTransportHarness, waitFor } from './harness.js';

const h = useTransportHarness();

async function countingServer(name: string): Promise<{ server: TransportServer; accepted: Connection[] }> {
  const accepted: Connection[] = [];
  const router = new RpcRouter().on(GetStatus, () => ({ json: Buffer.from(name) }));
  const server = await h.server({
    role: Role.Worker,
    onConnection: (c) => accepted.push(c),
    onRequest(m, c) {
      if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
    },
  });
  return { server, accepted };
}

function newPool(): ConnectionPool {
  const pool = new ConnectionPool({ role: Role.Client, appId: 'app', connectTimeoutMs: 2000 });
  h.defer(() => pool.close());
  return pool;
}

/** A port nobody listens on: bound once, then released. */
async function closedPort(): Promise<Address> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const a = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  if (a === null || typeof a === 'string') throw new Error('no TCP address');
  return { host: '127.0.0.1', port: a.port };
}

describe('ConnectionPool', () => {
  test('two concurrent get() calls open one connection', async () => {
    const { server, accepted } = await countingServer('w1');
    const pool = newPool();
    const [a, b] = await Promise.all([pool.get(server.address), pool.get(server.address)]);
    expect(a).toBe(b);
    expect(await pool.get(server.address)).toBe(a);
    expect(accepted).toHaveLength(1);
    expect((await a.call(GetStatus, {})).json.toString()).toBe('w1');
  });

  test('after the server closes the connection, get() opens a new one', async () => {
    const { server, accepted } = await countingServer('w1');
    const pool = newPool();
    const first = await pool.get(server.address);
    const gone = closedWith(first);
    accepted[0]!.close();
    await gone;

    const second = await pool.get(server.address);
    expect(second).not.toBe(first);
    expect(second.isClosed).toBe(false);
    expect(accepted).toHaveLength(2);
    expect((await second.call(GetStatus, {})).json.toString()).toBe('w1');
  });

  test('connecting to a closed port fails with BRAID_ERR_CONNECT and the failure is not cached', async () => {
    const address = await closedPort();
    const pool = newPool();
    const [r1, r2] = await Promise.all([settle(pool.get(address)), settle(pool.get(address))]);
    for (const r of [r1, r2]) {
      expect(r.ok).toBe(false);
      const e = failure(r);
      expect(e.code).toBe(ErrorCodes.CONNECT);
      expect(e.retriable).toBe(true);
    }
    const again = await settle(pool.get(address));
    expect(failure(again).code).toBe(ErrorCodes.CONNECT);
  });

  test('evict() closes the cached connection and the next get() opens a new one', async () => {
    const { server, accepted } = await countingServer('w1');
    const pool = newPool();
    const first = await pool.get(server.address);
    const gone = closedWith(first);
    pool.evict(server.address);
    await gone;
    const second = await pool.get(server.address);
    expect(second).not.toBe(first);
    expect(accepted).toHaveLength(2);
    await waitFor(() => server.connections.size === 1, 'the server to drop the evicted connection');
  });

  test('a connect that fails after evict() does not drop the newer connection from the pool', async () => {
    // The first connection is never acked (its connect times out); the second is acked at once.
    const rs = await h.rawServer((peer) => {
      if (rs.peers.length === 1) return;
      void peer.serveHandshake().catch(() => undefined);
    });
    const pool = new ConnectionPool({ role: Role.Client, appId: 'app', connectTimeoutMs: 300 });
    h.defer(() => pool.close());
    const first = settle(pool.get(rs.address));
    await waitFor(() => rs.peers.length === 1, 'the first socket');
    pool.evict(rs.address);
    const second = await pool.get(rs.address);
    expect(failure(await first).code).toBe(ErrorCodes.HANDSHAKE);

    expect(await pool.get(rs.address)).toBe(second);
    expect(rs.peers).toHaveLength(2);
    await pool.close();
    expect(second.isClosed).toBe(true);
  });

  test('a peer found dead is suspect for deadPeerBackoffMs: get() fails fast, evenIfSuspect still connects, then it is tried again', async () => {
    // The server acks every handshake, then says nothing more: the pool's connection dies of silence.
    const rs = await h.rawServer((peer) => {
      void peer.serveHandshake({ heartbeatIntervalMs: 50 }).catch(() => undefined);
    });
    const pool = new ConnectionPool({ role: Role.Client, appId: 'app', deadPeerBackoffMs: 600, connection: { heartbeatIntervalMs: 50, deadPeerTimeoutMs: 200 } });
    h.defer(() => pool.close());
    const first = await pool.get(rs.address);
    expect((await closedWith(first))?.code).toBe(ErrorCodes.PEER_DEAD);
    expect(pool.isSuspect(rs.address)).toBe(true);
    expect(pool.suspectAddresses()).toEqual([rs.address]);

    const fast = await settle(pool.get(rs.address));
    expect(failure(fast).code).toBe(ErrorCodes.PEER_DEAD);
    expect(failure(fast).retriable).toBe(true);
    expect(rs.peers).toHaveLength(1);
    // A caller with nowhere else to go connects anyway.
    const forced = await pool.get(rs.address, { evenIfSuspect: true });
    expect(rs.peers).toHaveLength(2);
    expect((await closedWith(forced))?.code).toBe(ErrorCodes.PEER_DEAD);

    await sleep(700);
    expect(pool.isSuspect(rs.address)).toBe(false);
    await pool.get(rs.address);
    expect(rs.peers).toHaveLength(3);
  });

  test('with a backoff, a failed connect makes the address suspect too', async () => {
    const address = await closedPort();
    const pool = new ConnectionPool({ role: Role.Client, appId: 'app', deadPeerBackoffMs: 10_000, connectTimeoutMs: 2000 });
    h.defer(() => pool.close());
    expect(failure(await settle(pool.get(address))).code).toBe(ErrorCodes.CONNECT);
    expect(pool.isSuspect(address)).toBe(true);
    expect(failure(await settle(pool.get(address))).code).toBe(ErrorCodes.PEER_DEAD);
  });

  test('a suspect peer that comes back (a healed network cut) is probed, connected and trusted again long before the backoff ends', async () => {
    const address = await closedPort();
    const pool = new ConnectionPool({ role: Role.LifecycleManager, appId: 'app', deadPeerBackoffMs: 30_000, connectTimeoutMs: 2000 });
    h.defer(() => pool.close());
    expect(failure(await settle(pool.get(address))).code).toBe(ErrorCodes.CONNECT);
    expect(pool.isSuspect(address)).toBe(true);
    // The peer is back on the same address: the pool's probe finds it without any caller asking.
    const accepted: Connection[] = [];
    const router = new RpcRouter().on(GetStatus, () => ({ json: Buffer.from('back') }));
    await h.server({
      port: address.port,
      role: Role.Worker,
      onConnection: (c) => accepted.push(c),
      onRequest(m, c) {
        if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
      },
    });
    const since = Date.now();
    await waitFor(() => !pool.isSuspect(address), 'the probe to clear the suspicion', 5000);
    expect(Date.now() - since).toBeLessThan(5000);
    expect(accepted).toHaveLength(1);
    // The probe's connection is the pool's: callers use it, no second connection.
    const conn = await pool.get(address);
    expect((await conn.call(GetStatus, {})).json.toString()).toBe('back');
    expect(accepted).toHaveLength(1);
  });

  test('a suspect peer that stays gone is probed only until its backoff ends', async () => {
    const address = await closedPort();
    const pool = new ConnectionPool({ role: Role.Client, appId: 'app', deadPeerBackoffMs: 1500, connectTimeoutMs: 2000 });
    h.defer(() => pool.close());
    expect(failure(await settle(pool.get(address))).code).toBe(ErrorCodes.CONNECT);
    // Refused probes neither extend the suspicion nor go on after it: the backoff ends on time.
    await sleep(1700);
    expect(pool.isSuspect(address)).toBe(false);
  });

  test('close() closes every connection, and get() afterwards fails without connecting', async () => {
    const one = await countingServer('w1');
    const two = await countingServer('w2');
    const pool = newPool();
    const a = await pool.get(one.server.address);
    const b = await pool.get(two.server.address);
    expect((await b.call(GetStatus, {})).json.toString()).toBe('w2');

    await pool.close();
    expect(a.isClosed).toBe(true);
    expect(b.isClosed).toBe(true);
    await waitFor(() => one.server.connections.size === 0 && two.server.connections.size === 0, 'servers to see the closes');

    const late = await settle(pool.get(one.server.address));
    expect(late.ok).toBe(false);
    expect(failure(late).code).toBe(ErrorCodes.CONNECTION_CLOSED);
    expect(failure(late).retriable).toBe(false);
    expect(one.accepted).toHaveLength(1);
  });

  test('a connection still opening when close() is called is closed and not handed out', async () => {
    const { server } = await countingServer('w1');
    const pool = newPool();
    const opening = settle(pool.get(server.address));
    await pool.close();
    const r = await opening;
    expect(r.ok).toBe(false);
    expect(failure(r).code).toBe(ErrorCodes.CONNECTION_CLOSED);
    await waitFor(() => server.connections.size === 0, 'the server to see the close');
  });
});
