/**
 * worker.push: push ingest into one real worker process, against a raw
 * node:net baseline that writes the same bytes to a file, in the same run.
 *
 * Braid: the worker (peers/worker-server.js) has a fresh data directory,
 * memoryLimit 2 GiB and diskReserve 0. This process reserves the partitions
 * (untimed), then pushes over one Client connection with K requests in
 * flight and finally commits every file with CommitFiles (timed: the figure
 * is from the first push to the commit's answer, so every byte is in a file).
 * Two shapes:
 *   worker.push         64 KiB PushData bodies (one batch each), to 8 partitions in turn
 *   worker.push.merged  64 KiB PushMergedData bodies of four 16 KiB batches, to 64 partitions
 * The shuffle is unregistered after each run (untimed), which deletes its files.
 *
 * Raw (peers/worker-raw.js): the same number of 64 KiB messages over plain
 * node:net, u32 length prefix, K in flight; the peer acks each on arrival,
 * appends the payloads to one file with gathered writev calls of 1-8 MiB and
 * answers the final commit message once everything is written and the file
 * closed. Its files are removed after each run (untimed).
 *
 * Client bodies are built once and reused (MACHINE.md: fresh memory trap);
 * runs alternate raw/braid with the order flipped every round.
 */
import { rawPush } from './lib/raw-push.js';
import {
  BATCH_HEADER_SIZE,
  BraidError,
  CommitFiles,
  ErrorCodes,
  MessageType,
  Mode,
  PushStatus,
  ReserveSlots,
  Role,
  UnregisterShuffle,
  writeBatchHeader,
  type FileId,
} from '../src/protocol/index.js';
import { connect, type Connection } from '../src/transport/index.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer, type Peer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { benchAppKey } from './lib/security.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const APP = 'bench';
/** Requests in flight: the client's default maxInFlightPerWorker. */
const IN_FLIGHT = 16;
const BODY = 64 * KiB;

export interface Sample {
  gbps: number;
  /** CPU ms per GB moved, this process and the server peer. */
  clientMsPerGB: number;
  serverMsPerGB: number;
}

/** CPU microseconds a peer used so far (the last two fields of its STAT answer). */
export async function peerCpuUs(peer: Peer): Promise<number> {
  const f = (await peer.query('STAT')).split(' ').map(Number);
  return f[f.length - 2]! + f[f.length - 1]!;
}

/** Times `work` (which moves `bytes`), with the CPU of this process and of `server`. */
export async function timed(server: Peer, bytes: number, work: () => Promise<void>): Promise<Sample> {
  const s0 = await peerCpuUs(server);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await work();
  const ns = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  const s1 = await peerCpuUs(server);
  const gb = bytes / 1e9;
  return { gbps: bytes / ns, clientMsPerGB: (c.user + c.system) / 1000 / gb, serverMsPerGB: (s1 - s0) / 1000 / gb };
}

export function describe(s: readonly Sample[]): string {
  const m = (f: (x: Sample) => number) => median(s.map(f));
  return (
    `${m((x) => x.gbps).toFixed(2)} GB/s, CPU ms/GB client ${m((x) => x.clientMsPerGB).toFixed(0)} server ${m((x) => x.serverMsPerGB).toFixed(0)}` +
    `  runs: ${s.map((x) => x.gbps.toFixed(2)).join(' ')}`
  );
}

/**
 * The raw baseline's push into a worker-raw peer: `count` messages of `body`
 * appended to file `name`, then the commit message; resolves when the commit is acked.
 */
export function rawPushFile(port: number, name: string, body: Buffer, count: number, inFlight: number): Promise<void> {
  const head = Buffer.concat([Buffer.from([0x50, Buffer.byteLength(name)]), Buffer.from(name)]);
  return rawPush(port, body, count, inFlight, { head, trailer: Buffer.alloc(4) });
}

/** One batch of `size` bytes in total (16-byte header included), non-constant payload. */
function fillBatch(buf: Buffer, at: number, size: number, batchId: number): void {
  for (let i = at + BATCH_HEADER_SIZE; i < at + size; i++) buf[i] = (i * 2654435761) >>> 24;
  writeBatchHeader(buf, at, { mapId: 0, attemptId: 0, batchId, length: size - BATCH_HEADER_SIZE });
}

interface Shape {
  name: string;
  partitions: number;
  /** Batches per 64 KiB body (1 = PushData). */
  batchesPerBody: number;
}

const SHAPES: Shape[] = [
  { name: 'worker.push', partitions: 8, batchesPerBody: 1 },
  { name: 'worker.push.merged', partitions: 64, batchesPerBody: 4 },
];

class BraidPusher {
  private nextShuffleId = 1;
  private readonly body: Buffer;
  private readonly offsets: number[];
  /** Partition ids of the merged frames, one array per group of consecutive partitions. */
  private readonly groups: number[][];
  private readonly zeros: number[];
  /** Time of the CommitFiles call of each run, ms (inside the timed figure). */
  readonly commitMs: number[] = [];

  constructor(
    private readonly lm: Connection,
    private readonly client: Connection,
    private readonly shape: Shape,
  ) {
    const k = shape.batchesPerBody;
    const size = BODY / k;
    this.body = Buffer.allocUnsafe(BODY);
    for (let i = 0; i < k; i++) fillBatch(this.body, i * size, size, i);
    this.offsets = Array.from({ length: k }, (_, i) => i * size);
    this.zeros = new Array<number>(k).fill(0);
    this.groups = Array.from({ length: shape.partitions / k }, (_, g) => Array.from({ length: k }, (_, i) => g * k + i));
  }

  async run(count: number, inFlight: number, server: Peer): Promise<Sample> {
    const shuffleId = this.nextShuffleId++;
    const shuffleKey = `${APP}-${shuffleId}`;
    const files: FileId[] = Array.from({ length: this.shape.partitions }, (_, p) => ({ partitionId: p, epoch: 0, mode: Mode.Primary }));
    await this.lm.call(ReserveSlots, { appId: APP, shuffleId, files, splitThreshold: 0 });
    const single = this.shape.batchesPerBody === 1;
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const i = next++;
        const res = single
          ? await this.client.request({ type: MessageType.PushData, shuffleKey, partitionId: i % this.shape.partitions, epoch: 0, mode: Mode.Primary, body: this.body })
          : await this.client.request({
              type: MessageType.PushMergedData,
              shuffleKey,
              mode: Mode.Primary,
              partitionIds: this.groups[i % this.groups.length]!,
              epochs: this.zeros,
              offsets: this.offsets,
              body: this.body,
            });
        if (res.type !== MessageType.PushResponse || res.statuses.some((s) => s !== PushStatus.SUCCESS)) {
          throw new BraidError(ErrorCodes.PUSH_FAILED, `push answered type ${res.type}, statuses ${res.type === MessageType.PushResponse ? [...res.statuses].join(',') : '-'}`);
        }
      }
    };
    let committedBytes = 0;
    const sample = await timed(server, count * BODY, async () => {
      await Promise.all(Array.from({ length: inFlight }, lane));
      const t0 = performance.now();
      const c = await this.lm.call(CommitFiles, { appId: APP, shuffleId, files, mapAttempts: [] });
      this.commitMs.push(performance.now() - t0);
      if (c.failed.length > 0) throw new BraidError(ErrorCodes.WRITE_FAILED, `${c.failed.length} files failed to commit`);
      for (const f of c.committed) committedBytes += f.bytes;
    });
    if (committedBytes !== count * BODY) throw new BraidError(ErrorCodes.DATA_LOST, `committed ${committedBytes} bytes, pushed ${count * BODY}`);
    await this.lm.call(UnregisterShuffle, { appId: APP, shuffleId });
    return sample;
  }
}

export const workerPush: BenchModule = {
  name: 'worker.push',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 7;
    const totalBytes = opts.quick ? 96 * MiB : 1024 * MiB;
    const count = totalBytes / BODY;
    const [worker, raw] = await Promise.all([
      spawnPeer(peerScript('worker-server'), [], { profile: opts.profile, profileName: 'worker-server-push' }),
      spawnPeer(peerScript('worker-raw'), [], { profile: opts.profile, profileName: 'worker-raw-push' }),
    ]);
    const conns: Connection[] = [];
    const results: BenchResult[] = [];
    try {
      const lm = await connect({ host: '127.0.0.1', port: worker.port }, { role: Role.LifecycleManager, appId: APP, key: benchAppKey(APP) });
      conns.push(lm);
      const client = await connect({ host: '127.0.0.1', port: worker.port }, { role: Role.Client, appId: APP, key: benchAppKey(APP) });
      conns.push(client);
      const rawBody = Buffer.allocUnsafe(BODY);
      fillBatch(rawBody, 0, BODY, 0);
      let rawSeq = 0;
      const rawRun = async (n: number): Promise<Sample> => {
        const s = await timed(raw, n * BODY, () => rawPushFile(raw.port, `push-${rawSeq++}`, rawBody, n, IN_FLIGHT));
        await raw.query('CLEAN');
        return s;
      };
      for (const shape of SHAPES) {
        const braid = new BraidPusher(lm, client, shape);
        const variants = [
          { name: 'raw', run: rawRun },
          { name: 'braid', run: (n: number) => braid.run(n, IN_FLIGHT, worker) },
        ];
        const samples: Record<string, Sample[]> = { raw: [], braid: [] };
        // Untimed warm-up rounds, alternating like the measured runs. Without them the first
        // two or three runs of both variants are 30-50 % slower than the rest: the worker's
        // push path needs a few thousand requests before it runs at its steady cost, and
        // page-cache growth is slow on memory the VM has handed back (MACHINE.md). The
        // second shape shares all but its request handling.
        const warmRounds = shape === SHAPES[0] ? 3 : 1;
        for (let i = 0; i < warmRounds; i++) for (const v of variants) await v.run((96 * MiB) / BODY);
        braid.commitMs.length = 0;
        for (let i = 0; i < runs; i++) {
          const order = i % 2 === 0 ? variants : [...variants].reverse();
          for (const v of order) samples[v.name]!.push(await v.run(count));
        }
        const r = median(samples.raw!.map((s) => s.gbps));
        const b = median(samples.braid!.map((s) => s.gbps));
        process.stderr.write(
          `${shape.name}: ${formatBytes(BODY)} bodies of ${shape.batchesPerBody} batch(es), ${shape.partitions} partitions, ${IN_FLIGHT} in flight, ${formatBytes(totalBytes)} x ${runs} runs\n` +
            `  raw   ${describe(samples.raw!)}\n` +
            `  braid ${describe(samples.braid!)}, commit ${median(braid.commitMs).toFixed(0)} ms\n`,
        );
        results.push(result(shape.name, b, 'GB/s', r));
      }
    } finally {
      for (const c of conns) c.close();
      await Promise.all([worker.stop(), raw.stop()]);
    }
    return results;
  },
};
