import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/server/worker/index.js';
import { connect } from '../../src/transport/index.js';
import { ALL_MAPS, CommitFiles, MessageType, Mode, ReserveSlots, Role, encodeBatchHeader } from '../../src/protocol/index.js';

const dirs: string[] = [];
const workers: WorkerHandle[] = [];
afterAll(async () => {
  for (const w of workers) await w.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('push, replicate, commit, fetch', async () => {
  const mk = async () => { const d = await mkdtemp(join(tmpdir(), 'braid-w-')); dirs.push(d); const w = await startWorker({ dataDirs: [d], chunkSize: 1024, diskReserve: 0 }); workers.push(w); return w; };
  const a = await mk(); const b = await mk();
  const lm = await connect(a.address, { role: Role.LifecycleManager, appId: 'app' });
  const lmb = await connect(b.address, { role: Role.LifecycleManager, appId: 'app' });
  await lm.call(ReserveSlots, { appId: 'app', shuffleId: 1, files: [{ partitionId: 0, epoch: 0, mode: Mode.Primary, peer: b.address }], splitThreshold: 0 });
  await lmb.call(ReserveSlots, { appId: 'app', shuffleId: 1, files: [{ partitionId: 0, epoch: 0, mode: Mode.Replica, peer: a.address }], splitThreshold: 0 });
  const c = await connect(a.address, { role: Role.Client, appId: 'app' });
  const batches: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    const payload = Buffer.alloc(100 + i, i);
    const batch = Buffer.concat([encodeBatchHeader({ mapId: i % 3, attemptId: 0, batchId: i, length: payload.length }), payload]);
    batches.push(batch);
    const r = await c.request({ type: MessageType.PushData, shuffleKey: 'app-1', partitionId: 0, epoch: 0, mode: Mode.Primary, body: batch });
    expect(r.type === MessageType.PushResponse && r.statuses[0]).toBe(0);
  }
  const ca = await lm.call(CommitFiles, { appId: 'app', shuffleId: 1, files: [{ partitionId: 0, epoch: 0, mode: Mode.Primary }], mapAttempts: [0, 0, 0] });
  const cb = await lmb.call(CommitFiles, { appId: 'app', shuffleId: 1, files: [{ partitionId: 0, epoch: 0, mode: Mode.Replica }], mapAttempts: [0, 0, 0] });
  expect(ca.committed[0]!.bytes).toBe(Buffer.concat(batches).length);
  expect(cb.committed[0]!.bytes).toBe(Buffer.concat(batches).length);
  for (const [w, name] of [[a, '0-0-primary'], [b, '0-0-replica']] as const) {
    const rc = await connect(w.address, { role: Role.Client, appId: 'app' });
    const h = await rc.request({ type: MessageType.OpenStream, shuffleKey: 'app-1', fileName: name, startMapIndex: 0, endMapIndex: ALL_MAPS });
    if (h.type !== MessageType.StreamHandle) throw new Error('no handle');
    const parts: Buffer[] = [];
    for (let i = 0; i < h.numChunks; i++) parts.push(await rc.fetchChunk(h.streamId, i));
    expect(Buffer.concat(parts).equals(Buffer.concat(batches))).toBe(true);
    const h2 = await rc.request({ type: MessageType.OpenStream, shuffleKey: 'app-1', fileName: name, startMapIndex: 1, endMapIndex: 2 });
    if (h2.type !== MessageType.StreamHandle) throw new Error('no handle');
    const p2: Buffer[] = [];
    for (let i = 0; i < h2.numChunks; i++) p2.push(await rc.fetchChunk(h2.streamId, i));
    expect(Buffer.concat(p2).equals(Buffer.concat(batches.filter((_, i) => i % 3 === 1)))).toBe(true);
    rc.close();
  }
  const late = await c.request({ type: MessageType.PushData, shuffleKey: 'app-1', partitionId: 0, epoch: 0, mode: Mode.Primary, body: batches[0]! });
  expect(late.type === MessageType.PushResponse && late.statuses[0]).toBe(3);
  c.close(); lm.close(); lmb.close();
});
