/**
 * Requests the worker must refuse with a coded answer (per-batch status or
 * error code) while it keeps serving everyone else, and peers it must drop.
 */
import { connect as netConnect } from 'node:net';
import { expect, test } from 'vitest';
import {
  BATCH_HEADER_SIZE,
  CommitFiles,
  DestroySlots,
  ErrorCodes,
  MessageType,
  Mode,
  PROTOCOL_VERSION,
  PushStatus,
  ReserveSlots,
  Role,
  encodeFrame,
  writeBatchHeader,
  type Address,
} from '../../src/protocol/index.js';
import {
  batch,
  commit,
  committedOf,
  connections,
  fileName,
  open,
  openStream,
  primary,
  pushData,
  pushMerged,
  readFile,
  rejectsWith,
  reserve,
  worker,
} from './harness.js';

const KEY = 'app-1';
const b0 = batch({ mapId: 0, attemptId: 0, batchId: 0 }, 32);

/** Sends raw bytes on a fresh socket; resolves with whether the worker closed it within `ms`. */
function rawPeer(address: Address, bytes: Buffer[], ms = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(address.port, address.host, () => {
      for (const b of bytes) s.write(b);
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    s.resume();
  });
}

test('bad pushes get per-batch failure statuses', async () => {
  const w = await worker();
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);

  expect(await pushData(client, 'app-99', 0, b0)).toBe(PushStatus.FAIL_UNKNOWN_SHUFFLE);
  expect(await pushData(client, KEY, 7, b0)).toBe(PushStatus.FAIL_UNKNOWN_LOCATION);
  expect(await pushData(client, KEY, 0, b0, 3)).toBe(PushStatus.FAIL_UNKNOWN_LOCATION);
  // Tasks push to primaries only; replica copies are written by their primary.
  expect(await pushData(client, KEY, 0, b0, 0, Mode.Replica)).toBe(PushStatus.FAIL_FORBIDDEN);

  // Corrupt batches: the length field does not match the body, or the body is shorter than a header.
  const lying = Buffer.from(b0); // copy
  writeBatchHeader(lying, 0, { mapId: 0, attemptId: 0, batchId: 1, length: 31 });
  expect(await pushData(client, KEY, 0, lying)).toBe(PushStatus.FAIL_CORRUPT);
  writeBatchHeader(lying, 0, { mapId: 0, attemptId: 0, batchId: 1, length: 1000 });
  expect(await pushData(client, KEY, 0, lying)).toBe(PushStatus.FAIL_CORRUPT);
  expect(await pushData(client, KEY, 0, Buffer.alloc(BATCH_HEADER_SIZE - 1))).toBe(PushStatus.FAIL_CORRUPT);
  // In a merged frame only the bad batch fails.
  expect(
    await pushMerged(client, KEY, [
      { partitionId: 0, batch: b0 },
      { partitionId: 0, batch: lying },
      { partitionId: 5, batch: b0 },
    ]),
  ).toEqual([PushStatus.SUCCESS, PushStatus.FAIL_CORRUPT, PushStatus.FAIL_UNKNOWN_LOCATION]);

  // Another application's client may neither push nor read.
  const other = await open(w.address, Role.Client, 'other');
  expect(await pushData(other, KEY, 0, b0)).toBe(PushStatus.FAIL_WRONG_APP);
  expect(await pushMerged(other, KEY, [{ partitionId: 0, batch: b0 }])).toEqual([PushStatus.FAIL_WRONG_APP]);
  // An app whose id is a prefix of ours is still another app.
  const prefix = await open(w.address, Role.Client, 'ap');
  expect(await pushData(prefix, KEY, 0, b0)).toBe(PushStatus.FAIL_WRONG_APP);

  const res = await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  // Only the one good batch was kept.
  expect(committedOf(res, 0).bytes).toBe(b0.length);
  await rejectsWith(openStream(other, KEY, fileName(0)), ErrorCodes.WRONG_APP);
  expect((await readFile(client, KEY, fileName(0))).data.equals(b0)).toBe(true);
});

test('bad control calls and reads get coded errors', async () => {
  const w = await worker({ chunkSize: 16 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)]);
  expect(await pushData(client, KEY, 0, b0)).toBe(0);
  expect(await pushData(client, KEY, 0, b0)).toBe(0);

  // CommitFiles of unknown files or an unknown shuffle lists them as failed.
  const res = await commit(lm, 1, [
    { partitionId: 0, epoch: 0, mode: 0 },
    { partitionId: 9, epoch: 0, mode: 0 },
    { partitionId: 0, epoch: 0, mode: Mode.Replica },
  ]);
  expect(res.committed.map((c) => c.partitionId)).toEqual([0]);
  expect(res.failed).toEqual(expect.arrayContaining([{ partitionId: 9, epoch: 0, mode: 0 }, { partitionId: 0, epoch: 0, mode: Mode.Replica }]));
  expect(res.failed).toHaveLength(2);
  expect(await commit(lm, 77, [{ partitionId: 0, epoch: 0, mode: 0 }])).toEqual({ committed: [], failed: [{ partitionId: 0, epoch: 0, mode: 0 }] });

  // A control connection of another application may not manage this one's slots.
  const otherLm = await open(w.address, Role.LifecycleManager, 'other');
  await rejectsWith(otherLm.call(ReserveSlots, { appId: 'app', shuffleId: 1, files: [primary(5)], splitThreshold: 0 }), ErrorCodes.WRONG_APP);
  await rejectsWith(otherLm.call(CommitFiles, { appId: 'app', shuffleId: 1, files: [], mapAttempts: [] }), ErrorCodes.WRONG_APP);
  await rejectsWith(otherLm.call(DestroySlots, { appId: 'app', shuffleId: 1, files: [] }), ErrorCodes.WRONG_APP);
  // An appId that is not a safe path component is refused before it touches the disk.
  const admin = await open(w.address, Role.Admin, '');
  const refused = await rejectsWith(admin.call(ReserveSlots, { appId: '../x', shuffleId: 1, files: [primary(0)], splitThreshold: 0 }), ErrorCodes.INVALID_REQUEST);
  expect(refused.retriable).toBe(false);
  expect(w.status().shuffles.map((s) => s.key)).toEqual([KEY]);

  // Reads.
  await rejectsWith(openStream(client, 'app-42', fileName(0)), ErrorCodes.UNKNOWN_SHUFFLE);
  await rejectsWith(openStream(client, KEY, fileName(8)), ErrorCodes.UNKNOWN_FILE);
  await rejectsWith(openStream(client, KEY, 'nonsense'), ErrorCodes.UNKNOWN_FILE);
  const uncommitted = await rejectsWith(openStream(client, KEY, fileName(1)), ErrorCodes.UNKNOWN_FILE);
  expect(uncommitted.retriable).toBe(true);

  const s = await openStream(client, KEY, fileName(0));
  expect(s.numChunks).toBe(2);
  await rejectsWith(client.fetchChunk(s.streamId, 2), ErrorCodes.BAD_CHUNK_INDEX);
  await rejectsWith(client.fetchChunk(s.streamId, 1_000_000), ErrorCodes.BAD_CHUNK_INDEX);
  await rejectsWith(client.fetchChunk(s.streamId + 1000, 0), ErrorCodes.UNKNOWN_STREAM);
  // A stream belongs to the connection that opened it.
  const client2 = await open(w.address, Role.Client);
  await rejectsWith(client2.fetchChunk(s.streamId, 0), ErrorCodes.UNKNOWN_STREAM);
  // The stream still works after all that.
  expect((await client.fetchChunk(s.streamId, 1)).equals(b0)).toBe(true);
});

test('a peer sending garbage is dropped and the worker keeps serving', async () => {
  const w = await worker();
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  expect(await pushData(client, KEY, 0, b0)).toBe(0);

  // Garbage before any handshake (a wrong protocol version byte).
  expect(await rawPeer(w.address, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')])).toBe(true);
  // A frame that claims to be larger than the worker accepts.
  const huge = Buffer.alloc(12);
  huge[0] = PROTOCOL_VERSION;
  huge[1] = MessageType.Handshake;
  huge.writeUInt32BE(0xffff_fff0, 8);
  expect(await rawPeer(w.address, [huge])).toBe(true);
  // A proper handshake, then garbage.
  const hs = encodeFrame({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Client, appId: 'app', nonce: Buffer.alloc(32) });
  expect(await rawPeer(w.address, [Buffer.concat([hs.head, hs.body ?? Buffer.alloc(0)]), Buffer.alloc(64, 0xee)])).toBe(true);
  // A push frame whose header does not decode.
  const push = encodeFrame({ type: MessageType.PushData, requestId: 1, shuffleKey: KEY, partitionId: 0, epoch: 0, mode: 0, body: b0 });
  push.head.writeUInt32BE(3, 4); // header length cut to 3 bytes
  expect(await rawPeer(w.address, [Buffer.concat([hs.head, hs.body ?? Buffer.alloc(0)]), push.head, push.body ?? Buffer.alloc(0)])).toBe(true);

  // The existing connections and new ones still work: push, commit, fetch.
  expect(await pushData(client, KEY, 0, b0)).toBe(0);
  const fresh = await open(w.address, Role.Client);
  expect(await pushData(fresh, KEY, 0, b0)).toBe(0);
  const res = await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  expect(committedOf(res, 0).bytes).toBe(3 * b0.length);
  expect((await readFile(fresh, KEY, fileName(0))).data.equals(Buffer.concat([b0, b0, b0]))).toBe(true);
  // A stream whose every chunk was sent is forgotten at once.
  expect(w.status().streams.open).toBe(0);
});
