/**
 * Issue 8 item 13: a client that pipelines its first request right behind
 * the last frame of its handshake (one write, so usually one read on the
 * server) is served, in order, and keeps its connection.
 */
import { expect, test } from 'vitest';
import { GetStatus, MessageType, PROTOCOL_VERSION, Role, encodeFrame, encodeValue, type Message } from '../../src/protocol/index.js';
import { handshakeProof, newNonce } from '../../src/security/keys.js';
import { RpcRouter, clusterAuth } from '../../src/transport/index.js';
import { useTransportHarness } from './harness.js';

const h = useTransportHarness();

function bytes(message: Message): Buffer {
  const { head, body } = encodeFrame(message);
  return body === undefined ? head : Buffer.concat([head, body]); // copy: test-only framing
}

test('requests written in the same write as the handshake proof are answered, in order (200 of 200)', async () => {
  let served = 0;
  const router = new RpcRouter().on(GetStatus, () => ({ json: Buffer.from(String(++served)) }));
  const server = await h.server({
    role: Role.Master,
    auth: clusterAuth('s3cret'),
    onRequest(m, c) {
      if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
    },
  });
  const request = (id: number) => bytes({ type: MessageType.RpcRequest, requestId: id, method: GetStatus.id, body: encodeValue(GetStatus.request, {}) });
  for (let i = 0; i < 200; i++) {
    const raw = await h.raw(server.address);
    const nonce = newNonce();
    raw.send({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Admin, appId: '', nonce });
    const challenge = await raw.next(MessageType.HandshakeChallenge);
    const proof = handshakeProof('s3cret', 'client', { clientRole: Role.Admin, serverRole: challenge.role, appId: '', clientNonce: nonce, serverNonce: challenge.nonce, binding: Buffer.alloc(0) });
    raw.write(Buffer.concat([bytes({ type: MessageType.HandshakeProof, proof }), request(1), request(2)])); // copy: one write, so the server reads it at once
    expect((await raw.next(MessageType.HandshakeAck)).ok, `try ${i}`).toBe(true);
    const first = await raw.next(MessageType.RpcResponse);
    const second = await raw.next(MessageType.RpcResponse);
    expect([first.requestId, second.requestId], `try ${i}`).toEqual([1, 2]);
    expect(raw.isOpen, `try ${i}`).toBe(true);
    raw.destroy();
  }
});
