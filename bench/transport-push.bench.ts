/**
 * transport.push: framed pushes over one connection between two processes,
 * against a raw node:net baseline measured in the same run.
 *
 * Braid: this process connects with the transport's connect() and pushes
 * PushData frames (one reused body Buffer, so fresh-memory costs stay out),
 * K requests in flight, each awaiting its PushResponse. The server peer
 * (peers/push-server.js braid) answers each frame after it arrived.
 *
 * Raw: the same bytes in the same message sizes over plain node:net, u32
 * length prefix + payload, the server counting bytes and acking each message
 * with 4 bytes, K messages in flight. Neither side touches the disk: this
 * measures the transport, not storage.
 *
 * Runs alternate raw/braid (order flipped every round) so drift on this
 * shared machine hits both; medians are reported.
 */
import { rawPush } from './lib/raw-push.js';
import { BATCH_HEADER_SIZE, BraidError, ErrorCodes, MessageType, PushStatus, Role, writeBatchHeader } from '../src/protocol/index.js';
import { connect } from '../src/transport/index.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer, type Peer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { benchAppKey } from './lib/security.js';
import type { TlsMaterial } from '../src/security/tls.js';

interface Config {
  /** Result name suffix, e.g. '64k.k32'. */
  label: string;
  bodySize: number;
  inFlight: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;

const CONFIGS: Config[] = [
  { label: '64k.k8', bodySize: 64 * KiB, inFlight: 8 },
  { label: '64k.k32', bodySize: 64 * KiB, inFlight: 32 },
  { label: '1m.k8', bodySize: MiB, inFlight: 8 },
  { label: '1m.k32', bodySize: MiB, inFlight: 32 },
];
/** The configuration reported as plain `transport.push`: ~64 KiB batches, 32 in flight per worker. */
const HEADLINE = '64k.k32';

export interface Sample {
  gbps: number;
  /** CPU seconds per second of wall time, 1.0 = one core busy. */
  clientCpu: number;
  serverCpu: number;
}

interface Stat {
  bytes: number;
  cpuUs: number;
}

async function stat(peer: Peer): Promise<Stat> {
  const [bytes, user, system] = (await peer.query('STAT')).split(' ').map(Number);
  return { bytes: bytes!, cpuUs: user! + system! };
}


/** Pushes with the transport's connect(), over TLS when `tls` is given (transport.push.tls). */
export function braidPusher(tls?: TlsMaterial): Pusher {
  return (port, body, count, inFlight) => pushBraid(port, body, count, inFlight, tls);
}

async function pushBraid(port: number, body: Buffer, count: number, inFlight: number, tls?: TlsMaterial): Promise<void> {
  const conn = await connect({ host: '127.0.0.1', port }, { role: Role.Client, appId: 'bench', key: benchAppKey('bench'), tls });
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const partitionId = next++ % 1024;
      const res = await conn.request({ type: MessageType.PushData, shuffleKey: 'bench-0', partitionId, epoch: 0, mode: 0, body });
      if (res.type !== MessageType.PushResponse || res.statuses[0] !== PushStatus.SUCCESS) {
        throw new BraidError(ErrorCodes.PUSH_FAILED, `push answered with message type ${res.type}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, lane));
  } finally {
    conn.close();
  }
}

export type Pusher = (port: number, body: Buffer, count: number, inFlight: number) => Promise<void>;

/** One timed transfer. The connect of the Braid client (and its handshake) is inside; it is ~0.1 ms of ≥ 50 ms. */
export async function measure(peer: Peer, push: Pusher, body: Buffer, totalBytes: number, inFlight: number): Promise<Sample> {
  const count = Math.ceil(totalBytes / body.length);
  const before = await stat(peer);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await push(peer.port, body, count, inFlight);
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const after = await stat(peer);
  const expected = count * body.length;
  if (after.bytes - before.bytes !== expected) {
    throw new BraidError(ErrorCodes.DATA_LOST, `server received ${after.bytes - before.bytes} payload bytes, expected ${expected}`);
  }
  return {
    gbps: expected / ns,
    clientCpu: ((cpu.user + cpu.system) * 1000) / ns,
    serverCpu: ((after.cpuUs - before.cpuUs) * 1000) / ns,
  };
}

export function makeBody(size: number): Buffer {
  // A realistic body: one batch (16-byte header + payload) of non-constant bytes.
  const body = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) body[i] = (i * 2654435761) >>> 24;
  writeBatchHeader(body, 0, { mapId: 1, attemptId: 0, batchId: 0, length: size - BATCH_HEADER_SIZE });
  return body;
}

/** Medians of one variant's runs: throughput, and CPU per GB on each side (less disturbed by other load than wall time). */
export function describe(s: readonly Sample[]): string {
  const m = (f: (x: Sample) => number) => median(s.map(f));
  const gbps = m((x) => x.gbps);
  const clientMsPerGB = m((x) => (1000 * x.clientCpu) / x.gbps);
  const serverMsPerGB = m((x) => (1000 * x.serverCpu) / x.gbps);
  return (
    `${gbps.toFixed(2)} GB/s, CPU ms/GB client ${clientMsPerGB.toFixed(0)} server ${serverMsPerGB.toFixed(0)}` +
    `  runs: ${s.map((x) => x.gbps.toFixed(2)).join(' ')}`
  );
}

export const transportPush: BenchModule = {
  name: 'transport.push',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 7;
    const totalBytes = opts.quick ? 160 * MiB : 1024 * MiB;
    const [rawPeer, braidPeer] = await Promise.all([
      spawnPeer(peerScript('push-server'), ['raw'], { profile: opts.profile, profileName: 'push-server-raw' }),
      spawnPeer(peerScript('push-server'), ['braid'], { profile: opts.profile, profileName: 'push-server-braid' }),
    ]);
    const variants = [
      { name: 'raw', peer: rawPeer, push: (port: number, body: Buffer, count: number, inFlight: number) => rawPush(port, body, count, inFlight) },
      { name: 'braid', peer: braidPeer, push: pushBraid },
    ];
    const results: BenchResult[] = [];
    try {
      for (const cfg of CONFIGS) {
        const body = makeBody(cfg.bodySize);
        const samples: Record<string, Sample[]> = { raw: [], braid: [] };
        // One untimed round warms the JIT, the sockets and the allocator.
        for (const v of variants) await measure(v.peer, v.push, body, Math.min(totalBytes, 32 * MiB), cfg.inFlight);
        for (let i = 0; i < runs; i++) {
          const order = i % 2 === 0 ? variants : [...variants].reverse();
          for (const v of order) samples[v.name]!.push(await measure(v.peer, v.push, body, totalBytes, cfg.inFlight));
        }
        const raw = median(samples.raw!.map((s) => s.gbps));
        const braid = median(samples.braid!.map((s) => s.gbps));
        process.stderr.write(
          `transport.push.${cfg.label}: body ${formatBytes(cfg.bodySize)}, ${cfg.inFlight} in flight, ${formatBytes(totalBytes)} x ${runs} runs\n` +
            `  raw   ${describe(samples.raw!)}\n` +
            `  braid ${describe(samples.braid!)}\n`,
        );
        results.push(result(`transport.push.${cfg.label}`, braid, 'GB/s', raw));
        if (cfg.label === HEADLINE) results.unshift(result('transport.push', braid, 'GB/s', raw));
      }
    } finally {
      await Promise.all([rawPeer.stop(), braidPeer.stop()]);
    }
    return results;
  },
};
