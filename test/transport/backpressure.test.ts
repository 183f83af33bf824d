/**
 * Backpressure through a real socket: when one side stops reading, the other
 * side's writer waits (writable() and request() stay pending) instead of
 * queueing without bound in its socket, and everything goes through once
 * reading resumes.
 */
import { describe, expect, test } from 'vitest';
import { MessageType, Role, type MessageOfType } from '../../src/protocol/index.js';
import type { Connection } from '../../src/transport/index.js';
import { liveArrayBuffers, sleep, useTransportHarness, waitFor } from './harness.js';

const h = useTransportHarness();

const MiB = 1 << 20;
/** The sender's user-space queue may hold one frame over the high-water mark, never many. */
const QUEUE_BOUND = 4 * MiB;

type PushAnswer = Awaited<ReturnType<Connection['request']>>;

/** Sleeps, then lets the event loop pass its poll phase twice, so any pending 'drain' has been delivered. */
async function quiet(ms: number): Promise<void> {
  await sleep(ms);
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Waits until a producer is blocked: it is waiting for writable() and its
 * progress count did not move over a quiet period. A count that stands still
 * only because this process was descheduled would move again right after.
 */
async function stalled(progress: () => number, isWaiting: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const before = progress();
    await quiet(150);
    if (isWaiting() && progress() === before) return;
    if (Date.now() > deadline) throw new Error('the producer never stalled');
  }
}

/** Watches `socket.writableLength` every millisecond and keeps the maximum. */
function watchQueued(conn: () => Connection | undefined): { max: number; stop(): void } {
  const w = {
    max: 0,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    const c = conn();
    if (c) w.max = Math.max(w.max, c.socket.writableLength);
  }, 1);
  return w;
}

/** A worker-like server: answers each PushData with SUCCESS if its body is the one the test made for that partition. */
async function pushServer(options: { pauseOnConnect: boolean }) {
  const state: { conn: Connection | undefined; received: number; frames: number } = { conn: undefined, received: 0, frames: 0 };
  const server = await h.server({
    role: Role.Worker,
    onConnection(c) {
      state.conn = c;
      // Paused before the client has even seen the ack, so no push is read early.
      if (options.pauseOnConnect) c.pauseReading();
    },
    onRequest(m, c) {
      if (m.type !== MessageType.PushData) return;
      state.received += m.body.length;
      state.frames++;
      const intact = m.body.length === MiB && m.body[0] === m.partitionId % 256 && m.body[MiB - 1] === m.partitionId % 256;
      c.reply({ type: MessageType.PushResponse, requestId: m.requestId, statuses: Buffer.from([intact ? 0 : 21]) });
    },
  });
  return { server, state };
}

function push(conn: Connection, partitionId: number): Promise<PushAnswer> {
  const body = Buffer.allocUnsafe(MiB);
  body[0] = partitionId % 256;
  body[MiB - 1] = partitionId % 256;
  return conn.request({ type: MessageType.PushData, shuffleKey: 'app-1', partitionId, epoch: 0, mode: 0, body });
}

function expectAllSucceeded(answers: PushAnswer[]): void {
  for (const a of answers) {
    expect(a.type).toBe(MessageType.PushResponse);
    expect([...(a as MessageOfType<typeof MessageType.PushResponse>).statuses]).toEqual([0]);
  }
}

describe('slow reader', () => {
  test('a client pushing 1 MiB frames waits while the server has paused reading, then every push is answered', async () => {
    const { server, state } = await pushServer({ pauseOnConnect: true });
    const conn = await h.client(server.address);
    const queued = watchQueued(() => conn);
    h.defer(() => queued.stop());

    const N = 64; // 64 MiB: far more than the kernel buffers of one loopback connection
    const answers: Promise<PushAnswer>[] = [];
    let settled = 0;
    let waiting = false;
    const producer = (async () => {
      for (let i = 0; i < N; i++) {
        waiting = true;
        await conn.writable();
        waiting = false;
        const a = push(conn, i);
        a.then(() => settled++, () => undefined);
        answers.push(a);
      }
    })();

    // The producer stalls: writable() has not resolved for a while.
    await stalled(() => answers.length, () => waiting);
    const sentWhilePaused = answers.length;
    expect(sentWhilePaused).toBeLessThan(N / 2);
    expect(settled).toBe(0);
    expect(state.frames).toBe(0);
    expect(queued.max).toBeLessThan(QUEUE_BOUND);

    // A request made now does not get onto the wire: it waits for 'drain' first
    // (already pending, though: its deadline runs while it waits).
    const inFlightBefore = conn.inFlight;
    const extra = push(conn, N);
    let extraSettled = false;
    extra.then(() => (extraSettled = true), () => undefined);
    await quiet(100);
    expect(waiting).toBe(true);
    expect(answers.length).toBe(sentWhilePaused);
    expect(conn.inFlight).toBe(inFlightBefore + 1);
    expect(extraSettled).toBe(false);

    state.conn!.resumeReading();
    await producer;
    const all = await Promise.all([...answers, extra]);
    expectAllSucceeded(all);
    expect(state.frames).toBe(N + 1);
    expect(state.received).toBe((N + 1) * MiB);
    expect(queued.max).toBeLessThan(QUEUE_BOUND);
    expect(conn.inFlight).toBe(0);
  });

  test('a server sending 1 MiB chunks waits while the client has paused reading, then every chunk arrives intact', async () => {
    const N = 64;
    let serverConn: Connection | undefined;
    let served = 0;
    let pumpWaiting = false;
    const queue: MessageOfType<typeof MessageType.ChunkFetchRequest>[] = [];
    let pumping = false;
    // A stream-manager-like pump: one chunk at a time, each only when the socket can take it.
    const pump = async (c: Connection) => {
      if (pumping) return;
      pumping = true;
      while (queue.length > 0 && !c.isClosed) {
        pumpWaiting = true;
        await c.writable();
        pumpWaiting = false;
        const m = queue.shift()!;
        c.reply({ type: MessageType.ChunkFetchSuccess, streamId: m.streamId, chunkIndex: m.chunkIndex, body: Buffer.alloc(MiB, m.chunkIndex % 256) });
        served++;
      }
      pumping = false;
    };
    const server = await h.server({
      role: Role.Worker,
      onConnection: (c) => (serverConn = c),
      onRequest(m, c) {
        if (m.type !== MessageType.ChunkFetchRequest) return;
        queue.push(m);
        void pump(c);
      },
    });
    const conn = await h.client(server.address);
    const queued = watchQueued(() => serverConn);
    h.defer(() => queued.stop());

    conn.pauseReading();
    expect(conn.isPaused).toBe(true);
    const chunks = Array.from({ length: N }, (_, i) => conn.fetchChunk(3, i));
    let arrived = 0;
    for (const c of chunks) c.then(() => arrived++, () => undefined);

    await stalled(() => served, () => pumpWaiting && queue.length > 0);
    expect(served).toBeLessThan(N / 2);
    expect(arrived).toBe(0);
    expect(queued.max).toBeLessThan(QUEUE_BOUND);

    conn.resumeReading();
    const bodies = await Promise.all(chunks);
    bodies.forEach((b, i) => expect(b.equals(Buffer.alloc(MiB, i % 256)), `chunk ${i}`).toBe(true));
    expect(served).toBe(N);
    expect(queued.max).toBeLessThan(QUEUE_BOUND);
  });

  test('512 MiB through a paused-then-resumed connection keeps memory bounded when the producer awaits writable()', async () => {
    const { server, state } = await pushServer({ pauseOnConnect: true });
    const conn = await h.client(server.address);
    const queued = watchQueued(() => conn);
    h.defer(() => queued.stop());

    const baseline = liveArrayBuffers();
    let peak = 0;
    const samples: number[] = [];
    const sample = () => {
      const grown = liveArrayBuffers() - baseline;
      samples.push(Math.round(grown / MiB));
      peak = Math.max(peak, grown);
    };

    const N = 512;
    const answers: Promise<PushAnswer>[] = [];
    let resumed = false;
    const resumeTimer = setTimeout(() => {
      resumed = true;
      state.conn!.resumeReading();
    }, 300);
    h.defer(() => clearTimeout(resumeTimer));
    for (let i = 0; i < N; i++) {
      await conn.writable();
      answers.push(push(conn, i)); // a fresh 1 MiB body each time, as a real producer would make
      if (i % 64 === 0) sample();
    }
    const all = await Promise.all(answers);
    sample();
    expect(resumed).toBe(true);
    expectAllSucceeded(all);
    expect(state.received).toBe(N * MiB);
    expect(queued.max).toBeLessThan(QUEUE_BOUND);
    // Queueing without waiting would hold most of the 512 MiB at once.
    expect(peak, `growth in MiB at each sample: ${samples.join(' ')}`).toBeLessThan(64 * MiB);
  });
});

describe('memory held by pending requests', () => {
  test('a written request does not keep its body alive while its answer is outstanding', async () => {
    const held: { requestId: number; conn: Connection }[] = [];
    let received = 0;
    const server = await h.server({
      role: Role.Worker,
      onRequest(m, c) {
        // Reads every push but answers none until the test says so (like a primary waiting for its replica).
        if (m.type !== MessageType.PushData) return;
        received++;
        held.push({ requestId: m.requestId, conn: c });
      },
    });
    const conn = await h.client(server.address);
    const baseline = liveArrayBuffers();

    const N = 32;
    const answers: Promise<PushAnswer>[] = [];
    for (let i = 0; i < N; i++) {
      await conn.writable();
      answers.push(push(conn, i));
    }
    await waitFor(() => received === N, 'the server to read every push', 10_000);
    expect(conn.inFlight).toBe(N);
    // All 32 MiB have left the client and been dropped by the server; only
    // bookkeeping may remain. Pinning the bodies would show as ~32 MiB here.
    const grown = liveArrayBuffers() - baseline;
    expect(grown).toBeLessThan(8 * MiB);

    for (const { requestId, conn: c } of held) c.reply({ type: MessageType.PushResponse, requestId, statuses: Buffer.from([0]) });
    expectAllSucceeded(await Promise.all(answers));
  });
});

describe('deadlines', () => {
  test('a request waiting for drain times out on time when the peer stays alive but never reads', async () => {
    const { server } = await pushServer({ pauseOnConnect: true });
    const conn = await h.client(server.address);
    // Fill the socket until writable() stops resolving (requests write after a microtask).
    for (let i = 0; i < 64; i++) void push(conn, i).catch(() => undefined);
    await waitFor(() => conn.socket.writableNeedDrain, 'the socket to need drain');
    const started = Date.now();
    const late = conn.request({ type: MessageType.PushData, shuffleKey: 'app-1', partitionId: 999, epoch: 0, mode: 0, body: Buffer.alloc(16) }, 200);
    await expect(late).rejects.toMatchObject({ code: 'BRAID_ERR_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
