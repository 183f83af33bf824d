/**
 * RpcRouter over a real connection: unknown methods, coded handler errors,
 * malformed payloads (a protocol violation) and unencodable answers.
 */
import { describe, expect, test } from 'vitest';
import {
  BraidError,
  ErrorCodes,
  GetStatus,
  MessageType,
  RequestSlots,
  Role,
  UnregisterShuffle,
  encodeValue,
  type ResponseOf,
} from '../../src/protocol/index.js';
import { RpcRouter } from '../../src/transport/index.js';
import { closedWith, failure, settle, sleep, useTransportHarness } from './harness.js';

const h = useTransportHarness();

function routed(router: RpcRouter) {
  return h.server({
    role: Role.Master,
    onRequest(m, c) {
      if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
    },
  });
}

const status = () => ({ json: Buffer.from('{"ok":true}') });

describe('RpcRouter', () => {
  test('a method without a handler answers BRAID_ERR_UNKNOWN_METHOD and the connection stays open', async () => {
    const server = await routed(new RpcRouter().on(GetStatus, status));
    const conn = await h.client(server.address);

    const known = await settle(conn.call(UnregisterShuffle, { appId: 'a', shuffleId: 1 }));
    expect(known.ok).toBe(false);
    const e = failure(known);
    expect(e.code).toBe(ErrorCodes.UNKNOWN_METHOD);
    expect(e.retriable).toBe(false);
    expect(e.message).toContain('UnregisterShuffle');

    // A method id no build knows about.
    const unknown = await settle(conn.request({ type: MessageType.RpcRequest, method: 999, body: Buffer.alloc(0) }));
    expect(unknown.ok).toBe(false);
    expect(failure(unknown).code).toBe(ErrorCodes.UNKNOWN_METHOD);

    expect(conn.isClosed).toBe(false);
    expect((await conn.call(GetStatus, {})).json.toString()).toBe('{"ok":true}');
  });

  test("a handler's BraidError arrives with its code and retriable flag; the connection stays open", async () => {
    const router = new RpcRouter()
      .on(GetStatus, status)
      .on(UnregisterShuffle, (req) => {
        if (req.appId !== 'owner') throw new BraidError(ErrorCodes.WRONG_APP, `shuffle ${req.shuffleId} belongs to another app`, { retriable: true });
        return {};
      })
      .on(RequestSlots, async () => {
        await sleep(1);
        throw new BraidError(ErrorCodes.SLOTS_UNAVAILABLE, 'no healthy disks', { retriable: false });
      });
    const server = await routed(router);
    const conn = await h.client(server.address);

    const wrong = await settle(conn.call(UnregisterShuffle, { appId: 'intruder', shuffleId: 4 }));
    const err = failure(wrong);
    expect(err).toBeInstanceOf(BraidError);
    expect(err.code).toBe(ErrorCodes.WRONG_APP);
    expect(err.retriable).toBe(true);
    expect(err.message).toBe('shuffle 4 belongs to another app');

    // An async rejection, and a flag that overrides the code's default.
    const slots = await settle(conn.call(RequestSlots, { appId: 'a', shuffleId: 1, count: 1, replicate: false, excluded: [] }));
    expect(failure(slots).code).toBe(ErrorCodes.SLOTS_UNAVAILABLE);
    expect(failure(slots).retriable).toBe(false);

    expect(await conn.call(UnregisterShuffle, { appId: 'owner', shuffleId: 4 })).toEqual({});
    expect(conn.isClosed).toBe(false);
  });

  test('a plain Error thrown by a handler arrives as BRAID_ERR_INTERNAL', async () => {
    const server = await routed(
      new RpcRouter().on(GetStatus, () => {
        throw new TypeError('handler bug');
      }),
    );
    const conn = await h.client(server.address);
    const r = await settle(conn.call(GetStatus, {}));
    expect(failure(r).code).toBe(ErrorCodes.INTERNAL);
    expect(failure(r).message).toBe('handler bug');
    expect(conn.isClosed).toBe(false);
  });

  test('a malformed payload for a known method is answered with a failure, then the connection is closed', async () => {
    const router = new RpcRouter().on(GetStatus, status).on(UnregisterShuffle, () => ({}));
    const server = await routed(router);
    const conn = await h.client(server.address);
    expect(await conn.call(UnregisterShuffle, { appId: 'a', shuffleId: 1 })).toEqual({});

    const closed = closedWith(conn);
    // UnregisterShuffle wants appId:string shuffleId:u32; give it a string length that runs past the end.
    const r = await settle(conn.request({ type: MessageType.RpcRequest, method: UnregisterShuffle.id, body: Buffer.from([0, 50, 65]) }));
    expect(r.ok).toBe(false);
    expect(failure(r).code).toBe(ErrorCodes.PROTOCOL);
    await closed;
    expect(conn.isClosed).toBe(true);
    expect(server.connections.size).toBe(0);

    // Trailing bytes after a valid payload are malformed too.
    const conn2 = await h.client(server.address);
    const body = Buffer.concat([encodeValue(UnregisterShuffle.request, { appId: 'a', shuffleId: 1 }), Buffer.from([0])]);
    const r2 = await settle(conn2.request({ type: MessageType.RpcRequest, method: UnregisterShuffle.id, body }));
    expect(failure(r2).code).toBe(ErrorCodes.PROTOCOL);
    await closedWith(conn2);

    // The server still serves new connections.
    const conn3 = await h.client(server.address);
    expect((await conn3.call(GetStatus, {})).json.toString()).toBe('{"ok":true}');
  });

  test('an answer the handler cannot encode becomes a failure instead of leaving the caller waiting', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    h.defer(() => process.off('unhandledRejection', onUnhandled));

    const router = new RpcRouter()
      .on(GetStatus, status)
      // A spare worker's port does not fit the u16 of the wire grammar.
      .on(RequestSlots, (): ResponseOf<typeof RequestSlots> => ({ slots: [], spareWorkers: [{ host: 'w', port: 70_000 }] }));
    const server = await routed(router);
    const conn = await h.client(server.address);

    const r = await settle(conn.call(RequestSlots, { appId: 'a', shuffleId: 1, count: 0, replicate: false, excluded: [] }, 2000));
    expect(r.ok).toBe(false);
    const e = failure(r);
    expect(e.code).not.toBe(ErrorCodes.TIMEOUT);
    expect(e.code).toBe(ErrorCodes.INTERNAL);
    await sleep(20);
    expect(unhandled).toEqual([]);
    expect((await conn.call(GetStatus, {})).json.toString()).toBe('{"ok":true}');
  });
});
