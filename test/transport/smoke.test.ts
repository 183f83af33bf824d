import { test, expect } from 'vitest';
import { TransportServer, RpcRouter, connect } from '../../src/transport/index.js';
import { Role, GetStatus, MessageType, ErrorCodes } from '../../src/protocol/index.js';

test('smoke', async () => {
  const router = new RpcRouter().on(GetStatus, () => ({ json: Buffer.from('{"ok":true}') }));
  const server = await TransportServer.listen({ role: Role.Master, onRequest(m, c) {
    if (m.type === MessageType.RpcRequest) router.dispatch(m, c);
    else if (m.type === MessageType.PushData) c.reply({ type: MessageType.PushResponse, requestId: m.requestId, statuses: Buffer.from([0]) });
  }});
  const c = await connect(server.address, { role: Role.Client, appId: 'a' });
  const r = await c.call(GetStatus, {});
  expect(r.json.toString()).toBe('{"ok":true}');
  const rs = await Promise.all(Array.from({length: 1000}, () => c.call(GetStatus, {})));
  expect(rs.length).toBe(1000);
  const p = await c.request({ type: MessageType.PushData, shuffleKey: 'a-1', partitionId: 1, epoch: 0, mode: 0, body: Buffer.alloc(100) });
  expect(p.type).toBe(MessageType.PushResponse);
  await expect(c.call(GetStatus, {}, 1).catch(e => { throw e; })).resolves.toBeDefined().catch(() => {});
  c.close();
  await server.close();
});
