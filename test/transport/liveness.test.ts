/**
 * Heartbeats and dead-peer detection with short timings (ping after 50 ms of
 * silence, dead after 200 ms without a frame).
 */
import { describe, expect, test } from 'vitest';
import { ErrorCodes, GetStatus, MessageType, Role } from '../../src/protocol/index.js';
import { RpcRouter, type Connection, type TransportServer } from '../../src/transport/index.js';
import { ackFrame, closedWith, failure, settle, sleep, useTransportHarness, type Settled } from './harness.js';

const h = useTransportHarness();

const FAST = { heartbeatIntervalMs: 50, deadPeerTimeoutMs: 200 };

async function fastServer(onConnection?: (c: Connection) => void): Promise<TransportServer> {
  const router = new RpcRouter().on(GetStatus, () => ({ json: Buffer.from('{}') }));
  return h.server({
    role: Role.Master,
    connection: FAST,
    onRequest(m, c) {
      if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
    },
    ...(onConnection ? { onConnection } : {}),
  });
}

function expectDead(r: Settled<unknown>): void {
  const e = failure(r);
  expect(e.code).toBe(ErrorCodes.PEER_DEAD);
  expect(e.retriable).toBe(true);
}

describe('heartbeats', () => {
  test('an idle connection stays open for a second while pings and pongs flow both ways', async () => {
    let serverConn: Connection | undefined;
    const server = await fastServer((c) => (serverConn = c));
    const conn = await h.client(server.address, { connection: FAST });
    const readBefore = conn.socket.bytesRead;
    const serverReadBefore = serverConn!.socket.bytesRead;

    await sleep(1000);

    expect(conn.isClosed).toBe(false);
    expect(serverConn!.isClosed).toBe(false);
    // A heartbeat frame is 13 bytes; one every 50 ms of silence is ~20 a second.
    // Require a clear stream of them in each direction, not the exact count.
    expect(conn.socket.bytesRead - readBefore).toBeGreaterThanOrEqual(13 * 8);
    expect(serverConn!.socket.bytesRead - serverReadBefore).toBeGreaterThanOrEqual(13 * 8);
    expect(await conn.call(GetStatus, {})).toEqual({ json: Buffer.from('{}') });
  });

  test('a stall of our own event loop longer than deadPeerTimeoutMs is not taken for a dead peer', async () => {
    let serverConn: Connection | undefined;
    const server = await fastServer((c) => (serverConn = c));
    const conn = await h.client(server.address, { connection: FAST });
    await sleep(100);
    // What a long GC pause or a burst of synchronous work looks like: no timer
    // and no socket read runs for 500 ms, on both ends of this loopback pair.
    const until = Date.now() + 500;
    while (Date.now() < until) {
      // busy
    }
    await sleep(300);
    expect(conn.isClosed).toBe(false);
    expect(serverConn!.isClosed).toBe(false);
    expect(await conn.call(GetStatus, {})).toEqual({ json: Buffer.from('{}') });
  });

  test('pauseReading() suspends dead-peer detection, and resuming restarts the clock', async () => {
    let serverConn: Connection | undefined;
    const server = await fastServer((c) => (serverConn = c));
    const conn = await h.client(server.address, { connection: FAST });

    serverConn!.pauseReading();
    await sleep(600); // three dead-peer timeouts without reading a byte
    expect(serverConn!.isClosed).toBe(false);
    expect(conn.isClosed).toBe(false); // the paused side still sends its own pings
    serverConn!.resumeReading();
    await sleep(300);
    expect(serverConn!.isClosed).toBe(false);
    expect(conn.isClosed).toBe(false);
    expect(await conn.call(GetStatus, {})).toEqual({ json: Buffer.from('{}') });
  });
});

describe('dead peers', () => {
  test('a server closes a client that completed the handshake and then went silent; its pending requests reject', async () => {
    let serverConn: Connection | undefined;
    const server = await fastServer((c) => (serverConn = c));
    const raw = await h.raw(server.address);
    expect((await raw.handshake()).ok).toBe(true);
    expect(serverConn).toBeDefined();
    const closed = closedWith(serverConn!);
    // The connection is symmetric: the server asks the silent client something.
    const pending = settle(serverConn!.call(GetStatus, {}, 10_000));

    const started = Date.now();
    const reason = await closed;
    expect(reason?.code).toBe(ErrorCodes.PEER_DEAD);
    expectDead(await pending);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await raw.closesWithin(2000)).toBe(true);
    // It was pinged before being given up on.
    expect(raw.frames.some((f) => f.type === MessageType.Heartbeat && !f.pong)).toBe(true);
    expect(server.connections.size).toBe(0);
  });

  test('a client closes a server that acked the handshake and then went silent; its pending call rejects', async () => {
    const rs = await h.rawServer((peer) => {
      void peer.serveHandshake({ heartbeatIntervalMs: 50 }).catch(() => undefined);
    });
    const conn = await h.client(rs.address, { connection: FAST });
    const closed = closedWith(conn);
    const pending = settle(conn.call(GetStatus, {}, 10_000));
    const chunk = settle(conn.fetchChunk(1, 0, 10_000));

    expect((await closed)?.code).toBe(ErrorCodes.PEER_DEAD);
    expectDead(await pending);
    expectDead(await chunk);
    expect(await rs.peers[0]!.closesWithin(2000)).toBe(true);
  });

  test('a peer whose socket stops being read (paused behind the Connection’s back) is declared dead', async () => {
    // Pausing the socket directly is what a stuck event loop or a lost peer
    // looks like from the inside: no frames arrive although nobody asked for
    // backpressure, so liveness is not suspended.
    let serverConn: Connection | undefined;
    const server = await fastServer((c) => (serverConn = c));
    const conn = await h.client(server.address, { connection: FAST });
    conn.on('request', () => undefined); // takes the server's request, never answers it
    const serverClosed = closedWith(serverConn!);
    const clientClosed = closedWith(conn);
    const pending = settle(serverConn!.call(GetStatus, {}, 10_000));

    serverConn!.socket.pause();
    expect((await serverClosed)?.code).toBe(ErrorCodes.PEER_DEAD);
    expectDead(await pending);
    // The client then sees its connection go away and can reconnect.
    await clientClosed;
    expect(conn.isClosed).toBe(true);
    const again = await h.client(server.address, { connection: FAST });
    expect(await again.call(GetStatus, {})).toEqual({ json: Buffer.from('{}') });
  });
});
