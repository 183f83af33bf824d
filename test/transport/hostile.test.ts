/**
 * Peers that break the protocol or the handshake. Each is disconnected on its
 * own; a well-behaved client on the same server keeps being served.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import {
  ErrorCodes,
  GetStatus,
  MessageType,
  PRELUDE_SIZE,
  PROTOCOL_VERSION,
  Role,
  encodeFrame,
  encodeValue,
} from '../../src/protocol/index.js';
import { newNonce } from '../../src/security/keys.js';
import { RpcRouter, applicationAuth, type Connection, type ServerOptions, type TransportServer } from '../../src/transport/index.js';
import { ackFrame, failure, type RawPeer, settle, useTransportHarness } from './harness.js';

const h = useTransportHarness();

function statusServer(extra: Partial<ServerOptions> = {}): Promise<TransportServer> {
  const router = new RpcRouter().on(GetStatus, () => ({ json: Buffer.from('"up"') }));
  return h.server({
    role: Role.Master,
    onRequest(m, c) {
      if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
    },
    ...extra,
  });
}

async function expectServed(conn: Connection): Promise<void> {
  expect((await conn.call(GetStatus, {}, 2000)).json.toString()).toBe('"up"');
}

/** A valid GetStatus request frame, as bytes. */
function statusRequestBytes(requestId: number): Buffer {
  const { head, body } = encodeFrame({ type: MessageType.RpcRequest, requestId, method: GetStatus.id, body: encodeValue(GetStatus.request, {}) });
  return Buffer.concat([head, body ?? Buffer.alloc(0)]); // copy: test-only framing
}

/** A prelude claiming `bodyLength` bytes of body. */
function prelude(version: number, type: number, headerLength: number, bodyLength: number): Buffer {
  const b = Buffer.alloc(PRELUDE_SIZE);
  b[0] = version;
  b[1] = type;
  b.writeUInt32BE(headerLength, 4);
  b.writeUInt32BE(bodyLength, 8);
  return b;
}

describe('hostile clients', () => {
  test('garbage from raw sockets disconnects them while a well-behaved client keeps working', async () => {
    const server = await statusServer();
    const good = await h.client(server.address);
    await expectServed(good);

    const attacks: [string, (raw: RawPeer) => Promise<void>][] = [
      [
        'random bytes',
        async (raw) => {
          const junk = randomBytes(4096);
          junk[0] = 0xa5; // never a valid version byte, so the outcome does not depend on the draw
          raw.write(junk);
        },
      ],
      [
        'a frame with a bad version after a valid handshake',
        async (raw) => {
          expect((await raw.handshake()).ok).toBe(true);
          const frame = statusRequestBytes(1);
          frame[0] = PROTOCOL_VERSION + 1;
          raw.write(frame);
        },
      ],
      [
        'a length prefix over the frame limit',
        async (raw) => {
          expect((await raw.handshake()).ok).toBe(true);
          raw.write(prelude(PROTOCOL_VERSION, MessageType.RpcRequest, 10, 0xffff_fff0));
        },
      ],
      [
        'a header length over the header limit, before any handshake',
        async (raw) => raw.write(prelude(PROTOCOL_VERSION, MessageType.Handshake, 0x7fff_ffff, 0)),
      ],
      ['a request frame before the handshake', async (raw) => raw.write(statusRequestBytes(1))],
      ['an unknown message type', async (raw) => raw.write(prelude(PROTOCOL_VERSION, 200, 0, 0))],
      [
        'a HandshakeAck instead of a Handshake',
        async (raw) => raw.send(ackFrame()),
      ],
      [
        'a second Handshake',
        async (raw) => {
          expect((await raw.handshake()).ok).toBe(true);
          raw.send({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Client, appId: 'app', nonce: newNonce() });
        },
      ],
    ];

    for (const [what, attack] of attacks) {
      const raw = await h.raw(server.address);
      await attack(raw);
      expect(await raw.closesWithin(2000), `${what}: server closed the socket`).toBe(true);
      // No answer to anything sent after the violation.
      expect(raw.frames.filter((f) => f.type === MessageType.RpcResponse), what).toEqual([]);
      await expectServed(good);
    }

    expect(good.isClosed).toBe(false);
    expect(server.connections.size).toBe(1);
  });

  test('a frame split across many tiny writes is still served (the decoder is not confused by slow bytes)', async () => {
    const server = await statusServer();
    const raw = await h.raw(server.address);
    expect((await raw.handshake()).ok).toBe(true);
    const frame = statusRequestBytes(42);
    for (const byte of frame) {
      raw.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const answer = await raw.next(MessageType.RpcResponse);
    expect(answer.requestId).toBe(42);
    expect(raw.isOpen).toBe(true);
  });
});

describe('handshake', () => {
  test('a Handshake with another protocol version in its header is refused with BRAID_ERR_VERSION_MISMATCH', async () => {
    const server = await statusServer();
    const raw = await h.raw(server.address);
    // The prelude is valid; only the handshake's own version field differs.
    const ack = await raw.handshake({ version: PROTOCOL_VERSION + 1 });
    expect(ack.ok).toBe(false);
    expect(ack.code).toBe(ErrorCodes.VERSION_MISMATCH);
    expect(ack.version).toBe(PROTOCOL_VERSION);
    expect(await raw.closesWithin(2000)).toBe(true);
    expect(server.connections.size).toBe(0);
  });

  test('a client refuses a server whose ack speaks another protocol version', async () => {
    const rs = await h.rawServer((peer) => {
      void peer.serveHandshake({ version: PROTOCOL_VERSION + 1 }).catch(() => undefined);
    });
    const r = await settle(h.client(rs.address));
    expect(r.ok).toBe(false);
    expect(failure(r).code).toBe(ErrorCodes.VERSION_MISMATCH);
    expect(await rs.peers[0]!.closesWithin(2000)).toBe(true);
  });

  test('a server with a key refuses a wrong or missing proof with BRAID_ERR_AUTH and accepts the right one', async () => {
    const server = await statusServer({ auth: applicationAuth('app', 's3cret') });

    for (const key of ['wrong', undefined]) {
      const r = await settle(h.client(server.address, { role: Role.Client, ...(key === undefined ? {} : { key }) }));
      expect(r.ok).toBe(false);
      const e = failure(r);
      expect(e.code).toBe(ErrorCodes.AUTH);
      expect(e.retriable).toBe(false);
    }
    expect(server.connections.size).toBe(0);

    const conn = await h.client(server.address, { role: Role.Client, key: 's3cret' });
    await expectServed(conn);
    expect(server.connections.size).toBe(1);
    expect([...server.connections][0]!.appId).toBe('app');
  });

  test('a refused raw peer is closed by the server even if it never closes itself', async () => {
    const server = await statusServer({ auth: applicationAuth('app', 's3cret') });
    const raw = await h.raw(server.address);
    const ack = await raw.handshake({ role: Role.Client }, 'nope');
    expect(ack.ok).toBe(false);
    expect(ack.code).toBe(ErrorCodes.AUTH);
    expect(await raw.closesWithin(2000)).toBe(true);
  });

  test('no handshake within handshakeTimeoutMs: refused with BRAID_ERR_HANDSHAKE and closed', async () => {
    const server = await statusServer({ limits: { handshakeTimeoutMs: 100 } });
    const started = Date.now();
    const raw = await h.raw(server.address);
    expect(await raw.closesWithin(2000)).toBe(true);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(raw.frames).toMatchObject([{ type: MessageType.HandshakeAck, ok: false, code: ErrorCodes.HANDSHAKE }]);
    expect(server.connections.size).toBe(0);

    // A prompt client on the same server is unaffected by the timeout.
    const conn = await h.client(server.address);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expectServed(conn);
  });

  test('a client gives up with BRAID_ERR_HANDSHAKE when the server never acks', async () => {
    const rs = await h.rawServer();
    const started = Date.now();
    const r = await settle(h.client(rs.address, { connectTimeoutMs: 100 }));
    expect(failure(r).code).toBe(ErrorCodes.HANDSHAKE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(await rs.peers[0]!.closesWithin(2000)).toBe(true);
  });

  test('a request arriving in the same read as the ack does not hand back a dead connection', async () => {
    // The server sends its ack and, right behind it, a request of its own; a
    // client with no request handler must treat that as a protocol error and
    // fail connect() — not resolve with a closed connection whose heartbeat
    // timer keeps running (the harness checks for leaked timers).
    const rs = await h.rawServer((peer) => {
      void (async () => {
        await peer.next(MessageType.Handshake);
        peer.send({ type: MessageType.HandshakeChallenge, version: PROTOCOL_VERSION, role: Role.Master, auth: false, nonce: newNonce() });
        await peer.next(MessageType.HandshakeProof);
        const ack = encodeFrame(ackFrame({ heartbeatIntervalMs: 1000 })).head;
        peer.write(Buffer.concat([ack, statusRequestBytes(9)])); // copy: one write, so one read on the client
      })().catch(() => undefined);
    });
    const r = await settle(h.client(rs.address));
    expect(r.ok).toBe(false);
    expect(failure(r).code).toBe(ErrorCodes.PROTOCOL);
  });
});
