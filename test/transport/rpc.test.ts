/**
 * Request correlation on one connection: many concurrent calls answered out of
 * order, timeouts, late answers, and cleanup when a request cannot be encoded.
 */
import { describe, expect, test } from 'vitest';
import {
  BraidError,
  ErrorCodes,
  MessageType,
  RequestSlots,
  Role,
  UnregisterShuffle,
  type Message,
  type RequestOf,
  type ResponseOf,
} from '../../src/protocol/index.js';
import { RpcRouter, type Connection, type InboundRequest } from '../../src/transport/index.js';
import { closedWith, failure, settle, sleep, useTransportHarness, waitFor } from './harness.js';

const h = useTransportHarness();

type SlotsRequest = RequestOf<typeof RequestSlots>;
type SlotsResponse = ResponseOf<typeof RequestSlots>;

/** The answer the test server gives: every field depends on the request. */
function expectedSlots(req: SlotsRequest): SlotsResponse {
  const id = req.shuffleId;
  return {
    slots: Array.from({ length: req.count }, (_, k) => ({
      primary: { host: `w${id}`, port: (id * 31 + k) % 65536 },
      replica: req.replicate ? { host: `r${id}`, port: (id * 17 + k) % 65536 } : undefined,
    })),
    spareWorkers: [{ host: `${req.appId}-spare`, port: id % 65536 }],
  };
}

/** A server whose onRequest hands RpcRequests to `router` and everything else to `other`. */
function serve(router: RpcRouter, other?: (m: InboundRequest, c: Connection) => void) {
  return h.server({
    role: Role.Master,
    onRequest(m, c) {
      if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
      else other?.(m, c);
    },
  });
}

describe('request correlation', () => {
  test('1,000 concurrent RPCs on one connection each get their own answer, answered in random order', async () => {
    const answerOrder: number[] = [];
    const unregistered = new Set<number>();
    const router = new RpcRouter()
      .on(RequestSlots, async (req) => {
        await sleep(Math.floor(Math.random() * 20));
        answerOrder.push(req.shuffleId);
        return expectedSlots(req);
      })
      .on(UnregisterShuffle, async (req) => {
        await sleep(Math.floor(Math.random() * 20));
        answerOrder.push(req.shuffleId);
        unregistered.add(req.shuffleId);
        return {};
      });
    const server = await serve(router);
    const conn = await h.client(server.address);

    const N = 1000;
    const requests: SlotsRequest[] = Array.from({ length: N }, (_, i) => ({
      appId: `app${i % 3}`,
      shuffleId: i,
      count: i % 6,
      replicate: i % 2 === 0,
      excluded: [],
    }));
    // Every fifth call is another method, so answers must also match the method.
    const calls = requests.map((req) =>
      req.shuffleId % 5 === 0 ? conn.call(UnregisterShuffle, { appId: req.appId, shuffleId: req.shuffleId }) : conn.call(RequestSlots, req),
    );
    const results = await Promise.all(calls);

    for (let i = 0; i < N; i++) {
      if (i % 5 === 0) expect(results[i]).toEqual({});
      else expect(results[i]).toEqual(expectedSlots(requests[i]!));
    }
    expect(unregistered.size).toBe(N / 5);
    expect(answerOrder).toHaveLength(N);
    // The random delays really did reorder the answers.
    const inOrder = answerOrder.every((id, i) => i === 0 || answerOrder[i - 1]! < id);
    expect(inOrder).toBe(false);
    expect(conn.inFlight).toBe(0);
    expect(conn.isClosed).toBe(false);
  });

  test('a timed-out request fails with BRAID_ERR_TIMEOUT, the connection stays usable and the late answer is ignored', async () => {
    let release: ((r: SlotsResponse) => void) | undefined;
    const router = new RpcRouter().on(RequestSlots, (req) => {
      if (req.shuffleId === 1) return new Promise<SlotsResponse>((resolve) => (release = resolve));
      return expectedSlots(req);
    });
    const server = await serve(router);
    const conn = await h.client(server.address);
    const req = (shuffleId: number): SlotsRequest => ({ appId: 'a', shuffleId, count: 2, replicate: true, excluded: [] });

    const started = Date.now();
    const err = await conn.call(RequestSlots, req(1), 50).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(BraidError);
    expect((err as BraidError).code).toBe(ErrorCodes.TIMEOUT);
    expect((err as BraidError).retriable).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(conn.inFlight).toBe(0);

    // The late answer carries data that would be wrong for request 2; it is
    // on the wire before request 2's answer, so request 2 resolving to its own
    // data proves the late one was dropped, not matched to a newer request.
    expect(release).toBeDefined();
    release!({ slots: [], spareWorkers: [{ host: 'late', port: 1 }] });
    const second = await conn.call(RequestSlots, req(2), 2000);
    expect(second).toEqual(expectedSlots(req(2)));
    const third = await conn.call(RequestSlots, req(3), 2000);
    expect(third).toEqual(expectedSlots(req(3)));
    expect(conn.isClosed).toBe(false);
    expect(conn.inFlight).toBe(0);
  });

  test('a timed-out chunk fetch fails with BRAID_ERR_TIMEOUT and its late chunk is ignored', async () => {
    const held: Message[] = [];
    const server = await serve(new RpcRouter(), (m, c) => {
      if (m.type !== MessageType.ChunkFetchRequest) return;
      const answer: Message = { type: MessageType.ChunkFetchSuccess, streamId: m.streamId, chunkIndex: m.chunkIndex, body: Buffer.from(`chunk ${m.chunkIndex}`) };
      if (m.chunkIndex === 0) held.push(answer);
      else c.reply(answer);
    });
    const conn = await h.client(server.address);
    const err = await conn.fetchChunk(7, 0, 50).catch((e: unknown) => e);
    expect((err as BraidError).code).toBe(ErrorCodes.TIMEOUT);
    expect(conn.inFlight).toBe(0);
    const [serverConn] = server.connections;
    serverConn!.reply(held[0]!);
    expect((await conn.fetchChunk(7, 1, 2000)).toString()).toBe('chunk 1');
    expect(conn.isClosed).toBe(false);
    expect(conn.inFlight).toBe(0);
  });

  test('a request that cannot be encoded fails at once and leaves nothing pending', async () => {
    const server = await serve(new RpcRouter(), (m, c) => {
      if (m.type === MessageType.PushData) c.reply({ type: MessageType.PushResponse, requestId: m.requestId, statuses: Buffer.from([0]) });
    });
    const conn = await h.client(server.address);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    h.defer(() => process.off('unhandledRejection', onUnhandled));

    // A shuffle key over the u16 string limit fails in the encoder.
    const bad = await settle(
      conn.request({ type: MessageType.PushData, shuffleKey: 'k'.repeat(70_000), partitionId: 0, epoch: 0, mode: 0, body: Buffer.alloc(8) }, 60),
    );
    expect(bad.ok).toBe(false);
    expect(failure(bad).code).toBe(ErrorCodes.ENCODE);
    expect(conn.inFlight).toBe(0);

    // A stream id that is not a u64 fails the same way; the key must not stay "in flight".
    const badChunk = await settle(conn.fetchChunk(-1, 0, 60));
    expect(failure(badChunk).code).toBe(ErrorCodes.ENCODE);
    expect(conn.inFlight).toBe(0);
    const again = await settle(conn.fetchChunk(-1, 0, 60));
    expect(failure(again).code).toBe(ErrorCodes.ENCODE);

    // Past the requested timeouts: nothing rejects later behind our back.
    await sleep(120);
    expect(unhandled).toEqual([]);
    const ok = await conn.request({ type: MessageType.PushData, shuffleKey: 'a-1', partitionId: 0, epoch: 0, mode: 0, body: Buffer.alloc(8) });
    expect(ok.type).toBe(MessageType.PushResponse);
  });

  test('closing a connection rejects its pending requests with a retriable error and the close reason', async () => {
    const server = await serve(new RpcRouter().on(RequestSlots, () => new Promise<SlotsResponse>(() => undefined)));
    const conn = await h.client(server.address);
    const pending = Array.from({ length: 10 }, (_, i) =>
      settle(conn.call(RequestSlots, { appId: 'a', shuffleId: i, count: 1, replicate: false, excluded: [] })),
    );
    const chunk = settle(conn.fetchChunk(1, 1));
    // request() first waits for writability; close only once all eleven are on the wire.
    await waitFor(() => conn.inFlight === 11, 'requests to be sent');
    const closed = closedWith(conn);
    conn.close(new BraidError(ErrorCodes.PEER_DEAD, 'test says so'));
    expect((await closed)?.code).toBe(ErrorCodes.PEER_DEAD);
    for (const r of [...(await Promise.all(pending)), await chunk]) {
      expect(r.ok).toBe(false);
      const e = failure(r);
      expect(e.code).toBe(ErrorCodes.PEER_DEAD);
      expect(e.retriable).toBe(true);
    }
    const after = await settle(conn.call(RequestSlots, { appId: 'a', shuffleId: 1, count: 1, replicate: false, excluded: [] }));
    expect(failure(after).code).toBe(ErrorCodes.CONNECTION_CLOSED);
  });
});
