/**
 * Who gets in: against a real cluster (master and workers with the test
 * secret, TLS), handshakes without credentials, with wrong ones, with an
 * application's key claiming a cluster role, replayed handshakes in both
 * directions, and TLS without the right certificates are all refused with
 * their code, while a well-behaved application keeps working. No secret or
 * key ever crosses the wire.
 */
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { expect, test } from 'vitest';
import { ErrorCodes, GetStatus, MessageType, PROTOCOL_VERSION, Role, encodeFrame, type Address, type Message } from '../../src/protocol/index.js';
import { handshakeProof, newNonce } from '../../src/security/keys.js';
import { TlsMaterial } from '../../src/security/tls.js';
import { connect } from '../../src/transport/index.js';
import { RawPeer } from '../transport/harness.js';
import { appKey, testAppTls, testCaOnly, testSecret, testSecurity } from './fixture.js';
import { App, dial, onCleanup, secureCluster } from './harness.js';

const refusedWith = async (p: Promise<unknown>, code: string) => expect(p).rejects.toMatchObject({ code });

async function raw(address: Address): Promise<RawPeer> {
  const socket = netConnect({ host: address.host, port: address.port });
  const peer = new RawPeer(socket);
  onCleanup(() => peer.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return peer;
}

test('no credentials, wrong credentials, and application keys claiming cluster roles are refused with BRAID_ERR_AUTH', async () => {
  const c = await secureCluster();
  const good = await App.start(c, 'good');
  await good.works();
  const master = c.masterAddress;
  const worker = c.workers[0]!.address;
  const app = { tls: testAppTls() };
  const attempts: [string, () => Promise<unknown>][] = [
    ['no key, application role', () => connect(master, { role: Role.LifecycleManager, appId: 'x', ...app })],
    ['no key, admin with a cluster certificate', () => dial(c, master, Role.Admin)],
    ['a wrong application key', () => connect(worker, { role: Role.Client, appId: 'x', key: appKey('y'), ...app })],
    ["another application's key", () => connect(master, { role: Role.LifecycleManager, appId: 'good', key: appKey('x'), ...app })],
    ['a wrong cluster secret', () => dial(c, master, Role.Admin, { key: 'not-the-secret' })],
    // An application's key can never prove a cluster role, even with a cluster certificate in hand.
    ['an application key as a worker', () => dial(c, master, Role.Worker, { key: appKey('x') })],
    ['an application key as a replica', () => dial(c, worker, Role.Replica, { key: appKey('x') })],
    ['an application key as an admin of the master', () => dial(c, master, Role.Admin, { key: appKey('x') })],
    ['an application key as an admin of a worker', () => dial(c, worker, Role.Admin, { key: appKey('x') })],
    // Without the cluster's client certificate, the secret alone does not make a cluster role over TLS.
    ['the secret without a client certificate', () => connect(master, { role: Role.Admin, key: testSecret(), ...app })],
  ];
  for (const [what, attempt] of attempts) {
    const err = await attempt().then(() => undefined, (e: unknown) => e);
    expect(err, what).toMatchObject({ code: ErrorCodes.AUTH, retriable: false });
    // The message says what failed, never with what.
    expect(String((err as Error).message), what).not.toContain(testSecret());
  }
  await good.works();
  // A right key still gets in, after all that.
  expect((await dial(c, master, Role.Admin, { key: testSecret() })).isClosed).toBe(false);
});

test('TLS: a certificate of another CA proves nothing, and a client never trusts a server outside its CA', async () => {
  const c = await secureCluster();
  const good = await App.start(c, 'good');
  const f = testSecurity().foreign;
  const foreignCert = TlsMaterial.fromFiles({ caFile: testCaOnly().caFile, certFile: f.certFile, keyFile: f.keyFile });
  // A client certificate signed by another CA, with the right secret: refused as a cluster role.
  await refusedWith(connect(c.masterAddress, { role: Role.Admin, key: testSecret(), tls: foreignCert }), ErrorCodes.AUTH);
  // A client that trusts only another CA refuses our servers' certificate.
  await refusedWith(connect(c.masterAddress, { role: Role.LifecycleManager, appId: 'good', key: appKey('good'), tls: TlsMaterial.fromFiles({ caFile: f.caFile }) }), ErrorCodes.TLS);
  // A plaintext client gets no answer it could take for a Braid server's.
  const plain = await connect(c.masterAddress, { role: Role.LifecycleManager, appId: 'good', key: appKey('good'), connectTimeoutMs: 2000 }).then(() => 'connected', (e: { code: string }) => e.code);
  expect([ErrorCodes.CONNECTION_CLOSED, ErrorCodes.HANDSHAKE, ErrorCodes.PROTOCOL]).toContain(plain);
  await good.works();
});

test('a recorded client proof does not open another connection, and a recorded server answer does not fool a client', async () => {
  const c = await secureCluster({ plaintext: true });
  const good = await App.start(c, 'good');
  const secret = testSecret();

  // 1. Record a full, successful admin handshake, byte for byte.
  const first = await raw(c.masterAddress);
  const hello = { type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Admin, appId: '', nonce: newNonce() } as const;
  first.send(hello);
  const challenge = await first.next(MessageType.HandshakeChallenge);
  const transcript = { clientRole: Role.Admin, serverRole: challenge.role, appId: '', clientNonce: hello.nonce, serverNonce: challenge.nonce, binding: Buffer.alloc(0) };
  const proof = handshakeProof(secret, 'client', transcript);
  first.send({ type: MessageType.HandshakeProof, proof });
  const ack = await first.next(MessageType.HandshakeAck);
  expect(ack.ok).toBe(true);

  // 2. Replay the client's frames on a new connection: the server's nonce is new, so the old proof fails.
  const replay = await raw(c.masterAddress);
  replay.send(hello);
  const fresh = await replay.next(MessageType.HandshakeChallenge);
  expect(fresh.nonce.equals(challenge.nonce)).toBe(false);
  replay.send({ type: MessageType.HandshakeProof, proof });
  expect(await replay.next(MessageType.HandshakeAck)).toMatchObject({ ok: false, code: ErrorCodes.AUTH });
  expect(await replay.closesWithin(2000)).toBe(true);

  // 3. Replay the server's frames to a real client: its nonce is new, so the old server proof fails.
  const impostor = createServer((socket: Socket) => {
    const peer = new RawPeer(socket);
    void (async () => {
      await peer.next(MessageType.Handshake);
      peer.send(challenge);
      await peer.next(MessageType.HandshakeProof);
      peer.send(ack);
    })().catch(() => undefined);
  });
  await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', () => r()));
  onCleanup(() => new Promise<void>((r) => impostor.close(() => r())));
  const port = (impostor.address() as { port: number }).port;
  await refusedWith(connect({ host: '127.0.0.1', port }, { role: Role.Admin, key: secret }), ErrorCodes.AUTH);
  await good.works();
});

test('neither the secret nor an application key crosses the wire', async () => {
  const c = await secureCluster({ plaintext: true });
  const secret = testSecret();
  const key = appKey('good');
  // A recording TCP proxy in front of the master.
  const seen: Buffer[] = [];
  const proxy = createServer((inbound: Socket) => {
    const outbound = netConnect({ host: c.masterAddress.host, port: c.masterAddress.port });
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      from.on('data', (d: Buffer) => {
        seen.push(Buffer.from(d)); // copy: kept after the socket reuses it
        to.write(d);
      });
      from.on('close', () => to.destroy());
      from.on('error', () => to.destroy());
    }
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  onCleanup(() => new Promise<void>((r) => proxy.close(() => r())));
  const via = { host: '127.0.0.1', port: (proxy.address() as { port: number }).port };
  const admin = await connect(via, { role: Role.Admin, key: secret });
  onCleanup(() => admin.close());
  await admin.call(GetStatus, {});
  const lm = await connect(via, { role: Role.LifecycleManager, appId: 'good', key });
  onCleanup(() => lm.close());
  await lm.call(GetStatus, {});
  const wire = Buffer.concat(seen);
  expect(wire.length).toBeGreaterThan(0);
  for (const s of [secret, key, Buffer.from(key, 'hex').toString('latin1')]) expect(wire.includes(Buffer.from(s, 'latin1'))).toBe(false);
});

test('frames other than the handshake before authentication close the connection; nothing is served to it', async () => {
  const c = await secureCluster({ plaintext: true });
  const good = await App.start(c, 'good');
  const bytes = (m: Message) => {
    const { head, body } = encodeFrame(m);
    return body === undefined ? head : Buffer.concat([head, body]); // copy: test-only framing
  };
  const attempts: Buffer[] = [
    // A proof before any Handshake.
    bytes({ type: MessageType.HandshakeProof, proof: Buffer.alloc(32) }),
    // A request right after the Handshake, before the proof.
    Buffer.concat([bytes({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Admin, appId: '', nonce: newNonce() }), bytes({ type: MessageType.RpcRequest, requestId: 1, method: GetStatus.id, body: Buffer.alloc(0) })]),
    // A nonce of the wrong size.
    bytes({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Admin, appId: '', nonce: Buffer.alloc(3) }),
  ];
  for (const attempt of attempts) {
    const peer = await raw(c.workers[0]!.address);
    peer.write(attempt);
    expect(await peer.closesWithin(2000)).toBe(true);
    expect(peer.frames.filter((f) => f.type === MessageType.RpcResponse)).toEqual([]);
  }
  await good.works();
});
