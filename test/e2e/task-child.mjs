/**
 * A task process for the end-to-end tests (plain ESM: it is forked, so it
 * runs the build, not the sources). It holds one ShuffleClient and runs the
 * map and reduce tasks the test sends over IPC, several at once if asked.
 *
 * A map task generates deterministic batches from (seed, mapId, attemptId) —
 * so two attempts of one map push different data — pushes each with
 * pushData or mergeData, calls mapperEnd, and answers the sha1 of every raw
 * batch per partition. A reduce task reads a partition and answers the sha1
 * of every batch it got. A task can stop at chosen points ("paused") until
 * the test says "resume", so the test can kill or stop servers mid-task.
 *
 * Messages in:  init, map, reduce, resume, exit.
 * Messages out: ready, paused, result.
 */
import { createHash } from 'node:crypto';
import { ShuffleClient } from '../../dist/client/shuffle-client.js';

/** @type {ShuffleClient | undefined} */
let client;
/** Paused tasks by id: their resume functions. */
const paused = new Map();

function send(m) {
  if (process.connected) process.send(m);
}

function pause(id, at) {
  return new Promise((resolve) => {
    paused.set(id, resolve);
    send({ kind: 'paused', id, at });
  });
}

// ---- deterministic data ----

/** mulberry32: a small PRNG, good enough for test data. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const u32 = (r) => Math.floor(r() * 4294967296) >>> 0;

function mixSeed(...xs) {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 16777619) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  return h;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** Mostly small batches, some of tens of KiB, a few of up to 1 MiB. */
function batchSize(r, maxSize) {
  const p = r();
  let size;
  if (p < 0.03) size = 256 * KiB + Math.floor(r() * (MiB - 256 * KiB + 1));
  else if (p < 0.18) size = 2 * KiB + Math.floor(r() * 62 * KiB);
  else size = 1 + Math.floor(r() * 2 * KiB);
  return Math.min(size, maxSize);
}

/** Half the words repeat one value: compressible, yet every batch is different. */
function fill(buf, r) {
  const k = u32(r);
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) buf.writeUInt32LE(r() < 0.5 ? k : u32(r), i);
  for (; i < buf.length; i++) buf[i] = u32(r) & 0xff;
}

const digest = (b) => createHash('sha1').update(b).digest('hex');

// ---- tasks ----

async function runMap(t) {
  const r = prng(mixSeed(t.seed, t.mapId, t.attemptId));
  const pushed = Array.from({ length: t.numPartitions }, () => []);
  const pauseAt = new Set(t.pauseAt ?? []);
  let wireBytes = 0;
  for (let i = 0; i < t.batches; i++) {
    if (pauseAt.has(i)) await pauseMap(t, i);
    const partitionId = Math.floor(r() * t.numPartitions);
    const size = t.sizes?.[i] ?? batchSize(r, t.maxSize ?? MiB);
    // Some batches sit inside a larger buffer: offset and length must be honoured.
    const pre = r() < 0.2 ? Math.floor(r() * 100) + 1 : 0;
    const post = pre > 0 ? Math.floor(r() * 100) : 0;
    const whole = Buffer.allocUnsafe(pre + size + post);
    fill(whole, r);
    pushed[partitionId].push(digest(whole.subarray(pre, pre + size)));
    const args = [t.shuffleId, t.mapId, t.attemptId, partitionId, whole, pre, size, t.numMappers, t.numPartitions];
    const method = t.method ?? (r() < 0.5 ? 'pushData' : 'mergeData');
    wireBytes += method === 'pushData' ? await client.pushData(...args) : await client.mergeData(...args);
  }
  if (pauseAt.has(t.batches)) await pauseMap(t, t.batches);
  const end = await client.mapperEnd(t.shuffleId, t.mapId, t.attemptId, t.numMappers);
  return { mapId: t.mapId, attemptId: t.attemptId, winner: end.winner, allMappersEnded: end.allMappersEnded, pushed, wireBytes };
}

/** With `drainAtPause`, everything pushed so far is sent and answered before the task reports the pause. */
async function pauseMap(t, at) {
  if (t.drainAtPause) {
    await client.pushMergedData(t.shuffleId, t.mapId, t.attemptId);
    while (client.pushesInFlight > 0) await new Promise((res) => setTimeout(res, 5));
  }
  await pause(t.id, at);
}

async function runReduce(t) {
  const digests = [];
  let bytes = 0;
  for await (const b of client.readPartition(t.shuffleId, t.partitionId, t.startMapIndex, t.endMapIndex)) {
    digests.push(digest(b));
    bytes += b.length;
    if (digests.length === t.pauseAfter) await pause(t.id, digests.length);
  }
  return { partitionId: t.partitionId, digests, bytes };
}

async function run(t) {
  try {
    if (client === undefined) throw new Error('task before init');
    const result = t.kind === 'map' ? await runMap(t) : await runReduce(t);
    send({ kind: 'result', id: t.id, ok: true, result });
  } catch (err) {
    send({ kind: 'result', id: t.id, ok: false, error: { code: err?.code ?? 'BRAID_ERR_INTERNAL', message: String(err?.message ?? err) } });
  }
}

process.on('message', (m) => {
  switch (m.kind) {
    case 'init':
      ShuffleClient.connect({ ...m.client, appId: m.appId, lifecycleManager: m.lifecycleManager }).then(
        (c) => {
          client = c;
          send({ kind: 'ready' });
        },
        (err) => {
          send({ kind: 'init-failed', error: { code: err?.code ?? 'BRAID_ERR_INTERNAL', message: String(err?.message ?? err) } });
          process.exit(1);
        },
      );
      return;
    case 'map':
    case 'reduce':
      void run(m);
      return;
    case 'resume': {
      const f = paused.get(m.id);
      paused.delete(m.id);
      f?.();
      return;
    }
    case 'exit':
      void (client?.close() ?? Promise.resolve()).finally(() => process.exit(0));
      return;
  }
});
// The test process went away: so do we.
process.on('disconnect', () => process.exit(0));
