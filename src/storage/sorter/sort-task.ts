/**
 * Piscina worker entry: sorts one partition file by mapId (stable), writing
 * `<file>.sorted` and `<file>.sorted.index` (format in sorted-index.ts).
 *
 * 1. Scan: read the file in windows of the work buffer and record every
 *    batch's (offset, length, mapId) in typed arrays.
 * 2. Sort: a stable counting sort of batch numbers by mapId (MACHINE.md:
 *    ~10 ms per million batches; an Array.sort of objects is ~30x slower).
 * 3. Write. A file that fits the work buffer is already in memory after the
 *    scan; it is written with gathered writev calls of about 4 MiB, large
 *    runs as views of that buffer, small ones gathered by a copy. A larger file is written in passes: each pass
 *    fills the buffer with the next slice of the sorted order, reading only
 *    the parts of the source that hold it, then writes it in one call.
 *
 * Both outputs are written to temporary names and renamed, the index last,
 * so an index on disk always describes a complete sorted file.
 *
 * Runs in a worker thread from the compiled JS, or from a transpiled copy
 * when running from sources (task-file.ts): imports only Node built-ins and
 * sorted-index.js.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { encodeSortedIndex } from './sorted-index.js';

export interface SortTask {
  /** The committed partition file. */
  path: string;
  /** Its committed size; the file must hold exactly this many bytes of batches. */
  bytes: number;
  sortedPath: string;
  indexPath: string;
  /** Work buffer size; files up to this size are sorted in memory. */
  memoryBytes: number;
}

export interface SortTaskResult {
  batches: number;
  maps: number;
  bytes: number;
}

const HEADER = 16;
const READ_SPAN = 4 * 1024 * 1024;
const WRITE_CALL = 4 * 1024 * 1024;
const MAX_IOV = 1024;
/** Contiguous runs shorter than this are copied into the staging buffer rather than written as views. */
const SMALL_RUN = 64 * 1024;
/** Unneeded bytes between two needed batches that are read through rather than skipped. */
const READ_GAP = 64 * 1024;

// Reused across tasks while this thread lives; the pool's idle timeout ends
// the thread, and the memory with it. Fresh memory is slow to touch (MACHINE.md).
let work: Buffer | undefined;
let spanBuf: Buffer | undefined;
let stage: Buffer | undefined;

function workBuffer(size: number): Buffer {
  if (work === undefined || work.length < size) work = Buffer.allocUnsafeSlow(size);
  return work.subarray(0, size);
}

interface Batches {
  count: number;
  offsets: Float64Array;
  lengths: Uint32Array;
  mapIds: Uint32Array;
}

export default async function sortTask(task: SortTask): Promise<SortTaskResult> {
  const suffix = `.tmp-${randomBytes(6).toString('hex')}`;
  const sortedTmp = task.sortedPath + suffix;
  const indexTmp = task.indexPath + suffix;
  const src = await open(task.path, 'r');
  try {
    const size = (await src.stat()).size;
    if (size < task.bytes) throw new Error(`${task.path} holds ${size} bytes, ${task.bytes} were committed`);
    const buf = workBuffer(Math.max(HEADER, Math.min(task.bytes, task.memoryBytes)));
    const batches = await scan(src, task.bytes, buf);
    const { order, mapIds, mapFirstBatch } = sortByMap(batches);
    const batchOffsets = new Float64Array(batches.count + 1);
    for (let r = 0; r < batches.count; r++) batchOffsets[r + 1] = batchOffsets[r] + batches.lengths[order[r]];

    const out = await open(sortedTmp, 'w');
    try {
      if (task.bytes <= buf.length) await writeFromMemory(out, buf, batches, order);
      else await writeInPasses(src, out, buf, batches, order, batchOffsets);
    } finally {
      await out.close();
    }
    await writeFile(indexTmp, encodeSortedIndex({ sourceBytes: task.bytes, mapIds, mapFirstBatch, batchOffsets }));
    await rename(sortedTmp, task.sortedPath);
    await rename(indexTmp, task.indexPath);
    return { batches: batches.count, maps: mapIds.length, bytes: task.bytes };
  } catch (err) {
    await rm(sortedTmp, { force: true });
    await rm(indexTmp, { force: true });
    throw err;
  } finally {
    await src.close();
  }
}

/**
 * Reads windows starting at batch headers; a window ends where the next
 * header does not fit, and the following window starts at that header.
 * When the file fits `buf`, the single window leaves the whole file in it.
 */
async function scan(fh: FileHandle, bytes: number, buf: Buffer): Promise<Batches> {
  let cap = 1024;
  let offsets = new Float64Array(cap);
  let lengths = new Uint32Array(cap);
  let mapIds = new Uint32Array(cap);
  let count = 0;
  let pos = 0;
  while (pos < bytes) {
    const want = Math.min(buf.length, bytes - pos);
    if (want < HEADER) throw new Error(`truncated batch header at ${pos} of ${bytes}`);
    await readFully(fh, buf, 0, want, pos);
    let p = 0;
    while (p + HEADER <= want) {
      const total = HEADER + buf.readUInt32BE(p + 12);
      if (pos + p + total > bytes) throw new Error(`batch at ${pos + p} runs past the end of the file (${bytes} bytes)`);
      if (count === cap) {
        cap *= 2;
        offsets = grow(offsets, new Float64Array(cap));
        lengths = grow(lengths, new Uint32Array(cap));
        mapIds = grow(mapIds, new Uint32Array(cap));
      }
      offsets[count] = pos + p;
      lengths[count] = total;
      mapIds[count] = buf.readUInt32BE(p);
      count++;
      p += total;
    }
    pos += p;
  }
  return { count, offsets, lengths, mapIds };
}

function grow<T extends Float64Array | Uint32Array>(old: T, bigger: T): T {
  bigger.set(old);
  return bigger;
}

/**
 * Stable counting sort of batch numbers by mapId. Keys are the mapIds
 * themselves when they are dense enough for a count array, otherwise their
 * ranks among the distinct mapIds.
 */
function sortByMap(b: Batches): { order: Uint32Array; mapIds: Uint32Array; mapFirstBatch: Uint32Array } {
  const n = b.count;
  let max = 0;
  for (let i = 0; i < n; i++) if (b.mapIds[i] > max) max = b.mapIds[i];
  let keys: Uint32Array;
  let keyToMap: Uint32Array | undefined;
  if (max <= 4 * n + 65536) {
    keys = b.mapIds;
  } else {
    const distinct = uniqueSorted(b.mapIds.slice(0, n)); // copy: TypedArray.slice, to sort
    keys = new Uint32Array(n);
    for (let i = 0; i < n; i++) keys[i] = lowerBound(distinct, b.mapIds[i]);
    keyToMap = distinct;
    max = distinct.length - 1;
  }
  const start = new Uint32Array(max + 2);
  for (let i = 0; i < n; i++) start[keys[i] + 1]++;
  let maps = 0;
  for (let k = 0; k <= max; k++) {
    if (start[k + 1] > 0) maps++;
    start[k + 1] += start[k];
  }
  const mapIds = new Uint32Array(maps);
  const mapFirstBatch = new Uint32Array(maps + 1);
  let m = 0;
  for (let k = 0; k <= max; k++) {
    if (start[k + 1] > start[k]) {
      mapIds[m] = keyToMap === undefined ? k : keyToMap[k];
      mapFirstBatch[m] = start[k];
      m++;
    }
  }
  mapFirstBatch[maps] = n;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[start[keys[i]]++] = i;
  return { order, mapIds, mapFirstBatch };
}

function uniqueSorted(values: Uint32Array): Uint32Array {
  values.sort();
  let u = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[u - 1]) values[u++] = values[i];
  return values.subarray(0, u);
}

function lowerBound(sorted: Uint32Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The whole file is in `buf`. Runs of batches that stay contiguous in sorted
 * order go out as views of `buf`; runs under SMALL_RUN are copied into a
 * staging buffer first (memcpy is ~50x faster than the disk), so interleaved
 * small batches still make few, large writev calls.
 */
async function writeFromMemory(out: FileHandle, buf: Buffer, b: Batches, order: Uint32Array): Promise<void> {
  stage ??= Buffer.allocUnsafeSlow(WRITE_CALL);
  const staging = stage;
  let iov: Buffer[] = [];
  let iovBytes = 0;
  let staged = 0;
  let stageMark = 0;
  let outPos = 0;
  const closeStaged = (): void => {
    if (staged > stageMark) iov.push(staging.subarray(stageMark, staged));
    stageMark = staged;
  };
  const write = async (): Promise<void> => {
    closeStaged();
    if (iovBytes > 0) await writevFully(out, iov, outPos, iovBytes);
    outPos += iovBytes;
    iov = [];
    iovBytes = 0;
    staged = 0;
    stageMark = 0;
  };
  /** Adds a run; true when the pending writev is large enough to go out. */
  const addRun = (start: number, end: number): boolean => {
    const n = end - start;
    if (n >= SMALL_RUN || staged + n > staging.length) {
      closeStaged();
      iov.push(buf.subarray(start, end));
    } else {
      copyBytes(buf, start, staging, staged, n); // copy: small run, see above
      staged += n;
    }
    iovBytes += n;
    return iovBytes >= WRITE_CALL || iov.length >= MAX_IOV - 1;
  };
  // Awaits only when a write is due: a promise per batch would cost more than the sort.
  let runStart = -1;
  let runEnd = -1;
  for (let r = 0; r < b.count; r++) {
    const i = order[r];
    const s = b.offsets[i];
    if (s !== runEnd || runStart < 0) {
      if (runStart >= 0 && addRun(runStart, runEnd)) await write();
      runStart = s;
    }
    runEnd = s + b.lengths[i];
  }
  if (runStart >= 0) addRun(runStart, runEnd);
  await write();
}

/**
 * The file is larger than `buf`: each pass takes the next run of the sorted
 * order that fits `buf` (or one batch larger than it, copied in pieces),
 * reads the source spans holding it, places each batch at its sorted
 * position and writes the buffer out.
 */
async function writeInPasses(
  src: FileHandle,
  out: FileHandle,
  buf: Buffer,
  b: Batches,
  order: Uint32Array,
  sortedOffsets: Float64Array,
): Promise<void> {
  spanBuf ??= Buffer.allocUnsafeSlow(READ_SPAN);
  const span = spanBuf;
  const rank = new Uint32Array(b.count);
  for (let r = 0; r < b.count; r++) rank[order[r]] = r;
  const pieces: number[] = [];
  let lo = 0;
  while (lo < b.count) {
    const groupStart = sortedOffsets[lo];
    let hi = lo + 1;
    while (hi < b.count && sortedOffsets[hi + 1] - groupStart <= buf.length) hi++;
    const groupBytes = sortedOffsets[hi] - groupStart;
    if (groupBytes > buf.length) {
      await copyRange(src, out, buf, b.offsets[order[lo]], groupBytes, groupStart);
      lo = hi;
      continue;
    }
    let spanStart = -1;
    let spanEnd = -1;
    const readSpan = async (): Promise<void> => {
      if (spanStart < 0) return;
      await readFully(src, span, 0, spanEnd - spanStart, spanStart);
      for (const i of pieces) {
        const from = b.offsets[i] - spanStart;
        copyBytes(span, from, buf, sortedOffsets[rank[i]] - groupStart, b.lengths[i]);
      }
      pieces.length = 0;
      spanStart = -1;
    };
    for (let i = 0; i < b.count; i++) {
      const r = rank[i];
      if (r < lo || r >= hi) continue;
      const s = b.offsets[i];
      const e = s + b.lengths[i];
      if (b.lengths[i] > span.length) {
        await readSpan();
        await readFully(src, buf, sortedOffsets[r] - groupStart, b.lengths[i], s);
        continue;
      }
      if (spanStart >= 0 && (s - spanEnd > READ_GAP || e - spanStart > span.length)) await readSpan();
      if (spanStart < 0) spanStart = s;
      spanEnd = e;
      pieces.push(i);
    }
    await readSpan();
    await writeFully(out, buf, 0, groupBytes, groupStart);
    lo = hi;
  }
}

/** Copies `length` bytes from `from` in src to `to` in out through `buf`. */
async function copyRange(src: FileHandle, out: FileHandle, buf: Buffer, from: number, length: number, to: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const n = Math.min(buf.length, length - done);
    await readFully(src, buf, 0, n, from + done);
    await writeFully(out, buf, 0, n, to + done);
    done += n;
  }
}

/**
 * Buffer.copy costs about a microsecond and a view allocation per call; a
 * sort copies one run per batch, so short runs are copied by a loop.
 */
function copyBytes(src: Buffer, from: number, dst: Buffer, to: number, n: number): void {
  if (n >= 512) {
    src.copy(dst, to, from, from + n);
    return;
  }
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k];
}

async function readFully(fh: FileHandle, buf: Buffer, at: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await fh.read(buf, at + done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += bytesRead;
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, at: number, length: number, position: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const { bytesWritten } = await fh.write(buf, at + done, length - done, position + done);
    if (bytesWritten === 0) throw new Error(`write made no progress at ${position + done}`);
    done += bytesWritten;
  }
}

async function writevFully(fh: FileHandle, iov: Buffer[], position: number, total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(iov, position);
  // libuv loops over partial writes; fall back to plain writes if it ever stops short.
  if (bytesWritten < total) {
    let skip = bytesWritten;
    let at = position + bytesWritten;
    for (const part of iov) {
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      await writeFully(fh, part, skip, part.length - skip, at);
      at += part.length - skip;
      skip = 0;
    }
  }
}
