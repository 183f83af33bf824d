/**
 * Shared fixture for the worker tests: real workers on 127.0.0.1 port 0 with
 * temporary data directories, real transport connections, and an afterEach
 * that closes every connection and worker and removes every directory the
 * test made. Helpers speak the wire protocol directly (ReserveSlots,
 * PushData, PushMergedData, CommitFiles, OpenStream, ChunkFetch), so what is
 * tested is the worker as a client sees it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import {
  ALL_MAPS,
  BATCH_HEADER_SIZE,
  BraidError,
  CommitFiles,
  MessageType,
  Mode,
  ReserveSlots,
  Role,
  locationFileName,
  readBatchHeader,
  writeBatchHeader,
  type Address,
  type BatchHeader,
  type CommittedFileInfo,
  type ErrorCode,
  type FileId,
  type ReservedFile,
} from '../../src/protocol/index.js';
import { startWorker, type WorkerHandle, type WorkerOptions } from '../../src/server/worker/index.js';
import { connect, type Connection } from '../../src/transport/index.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

const dirs: string[] = [];
const workers: WorkerHandle[] = [];
const conns: Connection[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  for (const f of cleanups.splice(0)) await f();
  await Promise.all(workers.splice(0).map((w) => w.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs `f` in afterEach, before workers are closed and directories removed. */
export function onCleanup(f: () => Promise<void> | void): void {
  cleanups.push(f);
}

export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'braid-worker-'));
  dirs.push(d);
  return d;
}

/** A worker on port 0 with a fresh data dir (unless given) and no disk reserve. */
export async function worker(options: Partial<WorkerOptions> = {}): Promise<WorkerHandle> {
  const dataDirs = options.dataDirs ?? [await tempDir()];
  // Without a secret the worker runs insecure: these tests are about storage and the wire, not authentication.
  const w = await startWorker({ diskReserve: 0, drainTimeoutMs: 0, ...(options.authSecret ? {} : { insecure: true }), ...options, dataDirs });
  workers.push(w);
  return w;
}

export async function open(address: Address, role: Role, appId = 'app'): Promise<Connection> {
  const c = await connect(address, { role, appId });
  conns.push(c);
  return c;
}

/** A LifecycleManager connection (control RPCs) and a Client connection (pushes, reads). */
export async function connections(w: WorkerHandle, appId = 'app'): Promise<{ lm: Connection; client: Connection }> {
  return { lm: await open(w.address, Role.LifecycleManager, appId), client: await open(w.address, Role.Client, appId) };
}

// ---- batches ----

/** One batch: 16-byte header and `payload` (a length: filled with a pattern of `fill`). */
export function batch(h: Omit<BatchHeader, 'length'>, payload: Buffer | number, fill = h.batchId & 0xff): Buffer {
  const body = typeof payload === 'number' ? Buffer.alloc(payload, fill) : payload;
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + body.length);
  writeBatchHeader(out, 0, { ...h, length: body.length });
  body.copy(out, BATCH_HEADER_SIZE);
  return out;
}

/** Cuts a buffer of whole batches into views of each whole batch (header included). */
export function splitBatches(buf: Buffer): { header: BatchHeader; bytes: Buffer }[] {
  const out: { header: BatchHeader; bytes: Buffer }[] = [];
  let at = 0;
  while (at < buf.length) {
    const header = readBatchHeader(buf, at);
    const end = at + BATCH_HEADER_SIZE + header.length;
    if (end > buf.length) throw new Error(`batch at ${at} runs past the end (${end} > ${buf.length})`);
    out.push({ header, bytes: buf.subarray(at, end) });
    at = end;
  }
  return out;
}

/**
 * The chunk offsets a file of these batch sizes must have: a chunk closes at
 * the first batch boundary where it holds at least `chunkSize` bytes.
 */
export function expectedChunkOffsets(batchSizes: number[], chunkSize: number): number[] {
  const offsets = [0];
  let at = 0;
  let start = 0;
  for (const n of batchSizes) {
    at += n;
    if (at - start >= chunkSize) {
      offsets.push(at);
      start = at;
    }
  }
  if (offsets[offsets.length - 1] !== at) offsets.push(at);
  return offsets;
}

/** A small seeded PRNG (mulberry32), so a failing random test can be replayed. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

// ---- control ----

export function primary(partitionId: number, epoch = 0, peer?: Address): ReservedFile {
  return { partitionId, epoch, mode: Mode.Primary, peer };
}

export function replica(partitionId: number, epoch = 0, peer?: Address): ReservedFile {
  return { partitionId, epoch, mode: Mode.Replica, peer };
}

export async function reserve(lm: Connection, shuffleId: number, files: ReservedFile[], splitThreshold = 0, appId = 'app'): Promise<void> {
  await lm.call(ReserveSlots, { appId, shuffleId, files, splitThreshold });
}

export async function commit(
  lm: Connection,
  shuffleId: number,
  files: FileId[],
  mapAttempts: number[] = [],
  appId = 'app',
): Promise<{ committed: CommittedFileInfo[]; failed: FileId[] }> {
  return lm.call(CommitFiles, { appId, shuffleId, files, mapAttempts });
}

/** The committed entry of one file, failing the test when it is missing. */
export function committedOf(res: { committed: CommittedFileInfo[] }, partitionId: number, epoch = 0, mode: number = Mode.Primary): CommittedFileInfo {
  const c = res.committed.find((f) => f.partitionId === partitionId && f.epoch === epoch && f.mode === mode);
  if (c === undefined) throw new Error(`partition ${partitionId}-${epoch}-${mode} was not committed`);
  return c;
}

// ---- pushes ----

export async function pushData(c: Connection, shuffleKey: string, partitionId: number, body: Buffer, epoch = 0, mode: Mode = Mode.Primary): Promise<number> {
  const r = await c.request({ type: MessageType.PushData, shuffleKey, partitionId, epoch, mode, body });
  if (r.type !== MessageType.PushResponse) throw new Error(`PushData answered with message type ${r.type}`);
  expect(r.statuses.length).toBe(1);
  return r.statuses[0]!;
}

export interface MergedItem {
  partitionId: number;
  epoch?: number;
  batch: Buffer;
}

export async function pushMerged(c: Connection, shuffleKey: string, items: MergedItem[], mode: Mode = Mode.Primary): Promise<number[]> {
  const offsets: number[] = [];
  let at = 0;
  for (const it of items) {
    offsets.push(at);
    at += it.batch.length;
  }
  const r = await c.request({
    type: MessageType.PushMergedData,
    shuffleKey,
    mode,
    partitionIds: items.map((i) => i.partitionId),
    epochs: items.map((i) => i.epoch ?? 0),
    offsets,
    body: Buffer.concat(items.map((i) => i.batch), at), // copy
  });
  if (r.type !== MessageType.PushResponse) throw new Error(`PushMergedData answered with message type ${r.type}`);
  expect(r.statuses.length).toBe(items.length);
  return [...r.statuses];
}

/** Runs `f` over `items` with at most `limit` calls pending; resolves in item order. */
export async function limited<T, R>(items: readonly T[], limit: number, f: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

// ---- reads ----

export interface Stream {
  streamId: number;
  numChunks: number;
  totalBytes: number;
}

export async function openStream(c: Connection, shuffleKey: string, fileName: string, startMapIndex = 0, endMapIndex = ALL_MAPS): Promise<Stream> {
  const h = await c.request({ type: MessageType.OpenStream, shuffleKey, fileName, startMapIndex, endMapIndex });
  if (h.type !== MessageType.StreamHandle) throw new Error(`OpenStream answered with message type ${h.type}`);
  return { streamId: h.streamId, numChunks: h.numChunks, totalBytes: h.totalBytes };
}

/** Opens a stream and fetches every chunk, in order, a few at a time. */
export async function readFile(
  c: Connection,
  shuffleKey: string,
  fileName: string,
  startMapIndex = 0,
  endMapIndex = ALL_MAPS,
): Promise<{ stream: Stream; chunks: Buffer[]; data: Buffer }> {
  const stream = await openStream(c, shuffleKey, fileName, startMapIndex, endMapIndex);
  const indices = Array.from({ length: stream.numChunks }, (_, i) => i);
  const chunks = await limited(indices, 4, (i) => c.fetchChunk(stream.streamId, i));
  const data = Buffer.concat(chunks);
  expect(data.length).toBe(stream.totalBytes);
  return { stream, chunks, data };
}

export function fileName(partitionId: number, epoch = 0, mode: number = Mode.Primary): string {
  return locationFileName(partitionId, epoch, mode);
}

// ---- assertions ----

/** Awaits `p`, which must reject with a BraidError of `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<BraidError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a rejection with ${code}`).toBeInstanceOf(BraidError);
  expect((caught as BraidError).code).toBe(code);
  return caught as BraidError;
}

/** Polls `cond` every 10 ms until it holds or `timeoutMs` passes (then fails the test). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
