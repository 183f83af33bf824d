/**
 * Bench peer: the baselines of worker.push, worker.fetch and e2e.shuffle. A
 * minimal node:net server that stores pushed bytes in a file and serves a
 * file back, doing the same disk work as a worker with nothing else.
 *
 *   node dist-bench/bench/peers/worker-raw.js
 *
 * A connection starts with one mode byte:
 *
 *   'P' nameLength:u8 name   push: then frames `length:u32be payload`. Each
 *                            frame is acknowledged with 4 bytes once it has
 *                            arrived (in memory, as a worker acknowledges);
 *                            payloads are kept as views of the socket reads
 *                            (no copy) and appended to <dir>/<name> with
 *                            FileHandle.writev, one gathered write of ≥ 1 MiB
 *                            (at most 8 MiB) in flight. A frame of length 0
 *                            is the commit: everything is written and the
 *                            file closed, then it is acknowledged.
 *   'F' pathLength:u16be path  fetch: answers `size:u64be` and the file's
 *                            bytes, read in 1 MiB pieces into 4 reused
 *                            buffers (a buffer is read into again once the
 *                            socket has taken it). A relative path is under
 *                            <dir>.
 *
 * Prints READY <port>. Answers on stdin:
 *   STAT   `<payload bytes received> <user CPU µs> <system CPU µs>`
 *   CLEAN  removes every file in <dir>, answers OK
 *   DIR    <dir>
 * <dir> is a new temporary directory, removed on exit.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';
import { announceReady, exitOnSignal, serveCommands } from '../lib/peer.js';

const MiB = 1024 * 1024;
const MIN_WRITE = MiB;
const MAX_WRITE = 8 * MiB;
/** Like the worker's memoryLimit in the benchmarks: above it the socket is paused. */
const HIGH_WATER = 2048 * MiB;
const LOW_WATER = 1536 * MiB;
const READ_PIECE = MiB;

const dir = mkdtempSync(join(tmpdir(), 'braid-bench-raw-'));
let payloadBytes = 0;

// ---- push ----

function pushMode(socket: Socket, path: string): (chunk: Buffer, at: number) => void {
  const fh = open(path, 'w');
  fh.catch((err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))));
  const ack = Buffer.alloc(4);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let position = 0;
  let writing = false;
  let held = 0;
  let paused = false;
  let committing = false;
  // Parse state: bytes of the length prefix seen, and payload bytes still due.
  let prefix = 0;
  let prefixFill = 0;
  let remaining = 0;

  const pump = () => {
    if (writing) return;
    if (pendingBytes === 0 || (pendingBytes < MIN_WRITE && !committing)) {
      if (committing && pendingBytes === 0) finishCommit();
      return;
    }
    // Take whole views up to MAX_WRITE (at least one).
    let take = 0;
    let bytes = 0;
    while (take < pending.length && (take === 0 || bytes + pending[take]!.length <= MAX_WRITE)) bytes += pending[take++]!.length;
    const iov = pending.splice(0, take);
    pendingBytes -= bytes;
    writing = true;
    const at = position;
    position += bytes;
    void fh
      .then((h) => writeAll(h, iov, at, bytes))
      .then(
        () => {
          writing = false;
          held -= bytes;
          if (paused && held < LOW_WATER) {
            paused = false;
            socket.resume();
          }
          pump();
        },
        (err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))),
      );
  };

  const finishCommit = () => {
    committing = false;
    void fh.then((h) => h.close()).then(
      () => socket.write(ack),
      (err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  };

  return (chunk, start) => {
    let at = start;
    while (at < chunk.length) {
      if (remaining === 0) {
        prefix = (prefix << 8) | chunk[at++]!;
        if (++prefixFill < 4) continue;
        remaining = prefix >>> 0;
        prefix = 0;
        prefixFill = 0;
        if (remaining === 0) committing = true;
        continue;
      }
      const take = Math.min(remaining, chunk.length - at);
      pending.push(chunk.subarray(at, at + take));
      pendingBytes += take;
      held += take;
      payloadBytes += take;
      at += take;
      remaining -= take;
      if (remaining === 0) socket.write(ack);
    }
    if (held > HIGH_WATER && !paused) {
      paused = true;
      socket.pause();
    }
    pump();
  };
}

async function writeAll(fh: FileHandle, iov: Buffer[], position: number, bytes: number): Promise<void> {
  let done = 0;
  let rest = iov;
  while (done < bytes) {
    const { bytesWritten } = await fh.writev(rest, position + done);
    if (bytesWritten === 0) throw new BraidError(ErrorCodes.WRITE_FAILED, 'writev made no progress');
    done += bytesWritten;
    if (done < bytes) rest = skip(rest, bytesWritten);
  }
}

function skip(buffers: Buffer[], n: number): Buffer[] {
  let left = n;
  let i = 0;
  while (buffers[i]!.length <= left) left -= buffers[i++]!.length;
  const rest = buffers.slice(i); // Array.prototype.slice: references only
  rest[0] = rest[0]!.subarray(left);
  return rest;
}

// ---- fetch ----

/** Read buffers shared by every fetch: allocated once, so fresh memory stays out of the figure. */
const freeBuffers: Buffer[] = Array.from({ length: 4 }, () => Buffer.allocUnsafeSlow(READ_PIECE));
const bufferWaiters: ((b: Buffer) => void)[] = [];

function takeBuffer(): Promise<Buffer> {
  const b = freeBuffers.pop();
  return b !== undefined ? Promise.resolve(b) : new Promise((resolve) => bufferWaiters.push(resolve));
}

function giveBuffer(b: Buffer): void {
  const w = bufferWaiters.shift();
  if (w !== undefined) w(b);
  else freeBuffers.push(b);
}

async function serveFile(socket: Socket, path: string): Promise<void> {
  const fh = await open(isAbsolute(path) ? path : join(dir, path), 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(BigInt(size));
    socket.write(head);
    for (let pos = 0; pos < size && !socket.destroyed; ) {
      const buf = await takeBuffer();
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ_PIECE, size - pos), pos);
      if (bytesRead === 0) throw new BraidError(ErrorCodes.READ_FAILED, `${path}: end of file at ${pos} of ${size}`);
      pos += bytesRead;
      socket.write(buf.subarray(0, bytesRead), () => giveBuffer(buf));
    }
  } finally {
    await fh.close();
  }
}

// ---- connections ----

const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let head = Buffer.alloc(0);
  let onData: ((chunk: Buffer, at: number) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    if (onData !== undefined) return onData(chunk, 0);
    head = Buffer.concat([head, chunk]); // copy: a few bytes, once per connection
    const mode = head[0];
    const nameStart = mode === 0x50 ? 2 : 3;
    if (head.length < nameStart) return;
    const nameLength = mode === 0x50 ? head[1]! : head.readUInt16BE(1);
    if (head.length < nameStart + nameLength) return;
    const name = head.toString('utf8', nameStart, nameStart + nameLength);
    const rest = head.subarray(nameStart + nameLength);
    if (mode === 0x50) {
      if (name.includes('/')) return socket.destroy();
      onData = pushMode(socket, join(dir, name));
      if (rest.length > 0) onData(rest, 0);
    } else if (mode === 0x46) {
      onData = () => socket.destroy(); // a fetch connection sends nothing more
      serveFile(socket, name).catch(() => socket.destroy());
    } else {
      socket.destroy();
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
const addr = server.address();
if (addr === null || typeof addr === 'string') throw new BraidError(ErrorCodes.INTERNAL, 'raw server has no TCP address');

exitOnSignal(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});
serveCommands({
  STAT: () => {
    const cpu = process.cpuUsage();
    return `${payloadBytes} ${cpu.user} ${cpu.system}`;
  },
  CLEAN: () => {
    for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
    return 'OK';
  },
  DIR: () => dir,
});
announceReady(addr.port);
