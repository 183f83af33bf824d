/**
 * TransportServer.close(): every connection goes, in whatever state it is,
 * and every pending request on either side fails with a retriable error.
 */
import { describe, expect, test } from 'vitest';
import { BraidError, ErrorCodes, GetStatus, MessageType, RequestSlots, Role } from '../../src/protocol/index.js';
import { RpcRouter, type Connection } from '../../src/transport/index.js';
import { closedWith, failure, settle, useTransportHarness, waitFor } from './harness.js';

const h = useTransportHarness();

describe('server close()', () => {
  test('closes every client connection and rejects pending requests on both sides with retriable errors', async () => {
    // RequestSlots is never answered; GetStatus is.
    const router = new RpcRouter()
      .on(GetStatus, () => ({ json: Buffer.from('{}') }))
      .on(RequestSlots, () => new Promise<never>(() => undefined));
    const server = await h.server({
      role: Role.Master,
      onRequest(m, c) {
        if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
      },
    });
    const clients: Connection[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await h.client(server.address);
      c.on('request', () => undefined); // accepts server requests, never answers
      clients.push(c);
    }
    const clientPending = clients.flatMap((c) =>
      Array.from({ length: 5 }, (_, i) => settle(c.call(RequestSlots, { appId: 'a', shuffleId: i, count: 1, replicate: false, excluded: [] }))),
    );
    const serverSide = [...server.connections];
    expect(serverSide).toHaveLength(3);
    const serverPending = serverSide.map((c) => settle(c.call(GetStatus, {})));
    await waitFor(() => clients.every((c) => c.inFlight === 5) && serverSide.every((c) => c.inFlight === 1), 'every request to be sent');
    // A socket still in its handshake is closed too.
    const raw = await h.raw(server.address);

    const address = server.address;
    const started = Date.now();
    await server.close();
    // It does not wait for clients to hang up on their own (they never would).
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.connections.size).toBe(0);

    for (const r of [...(await Promise.all(clientPending)), ...(await Promise.all(serverPending))]) {
      expect(r.ok).toBe(false);
      const e = failure(r);
      expect(e).toBeInstanceOf(BraidError);
      expect(e.retriable).toBe(true);
      expect([ErrorCodes.CONNECTION_CLOSED, ErrorCodes.SHUTTING_DOWN]).toContain(e.code);
    }
    // The server's own side says why.
    for (const r of await Promise.all(serverPending)) expect(failure(r).code).toBe(ErrorCodes.SHUTTING_DOWN);

    await Promise.all(clients.map((c) => closedWith(c)));
    expect(clients.every((c) => c.isClosed)).toBe(true);
    expect(await raw.closesWithin(2000)).toBe(true);

    const after = await settle(h.client(address, { connectTimeoutMs: 2000 }));
    expect(failure(after).code).toBe(ErrorCodes.CONNECT);
    await server.close(); // a second close is harmless
  });
});
