/**
 * compression: which compressionMode should ShuffleClient default to,
 * 'inline' or 'pool'? And does the lz4 path leak?
 *
 * Throughput: a master (peers/e2e-master.js) and one worker
 * (peers/worker-server.js) in their own processes; in this process a
 * LifecycleManager (replication off) and one ShuffleClient per codec/mode.
 * A run is one map task as TeraSort's mapper pushes: TeraSort records
 * (gensort layout, generateRecords, made once before timing) in 256 KiB
 * batches of whole records, pushData to 8 partitions in turn, one call at a
 * time, then mapperEnd (every push acknowledged). Figures are record bytes
 * (uncompressed) per second, from the first pushData to mapperEnd's answer;
 * the baseline is the same push with the 'none' codec, measured in the same
 * run. Runs rotate the variants' order.
 *
 * Leak: lz4 compressBlock (the async lz4-napi compress the client uses)
 * called in phases on one 256 KiB batch, rss and arrayBuffers read after a
 * forced GC after each phase; the figure is the rss growth over the later
 * half of the calls (see leakCheck). For scale, 200 calls of compressSync
 * (which leaks about its output per call, lz4-napi 2.10) are measured the
 * same way and reported on stderr.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compressSync } from 'lz4-napi';
import { LifecycleManager } from '../src/client/lifecycle/index.js';
import { ShuffleClient } from '../src/client/shuffle-client.js';
import type { CompressionName } from '../src/client/options.js';
import { compressBlock } from '../src/client/compression/codecs.js';
import { RECORD_SIZE, generateRecords } from '../src/jobs/data/gensort.js';
import { BatchCodec } from '../src/protocol/index.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer, type Peer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { benchAppKey } from './lib/security.js';

const MiB = 1024 * 1024;
const BATCH_RECORDS = Math.floor((256 * 1024) / RECORD_SIZE);
const BATCH = BATCH_RECORDS * RECORD_SIZE;
const POOL_BATCHES = 128;
const PARTITIONS = 8;

interface Variant {
  name: string;
  compression: CompressionName;
  mode: 'inline' | 'pool';
}

const VARIANTS: Variant[] = [
  { name: 'none', compression: 'none', mode: 'inline' },
  { name: 'lz4.inline', compression: 'lz4', mode: 'inline' },
  { name: 'lz4.pool', compression: 'lz4', mode: 'pool' },
  { name: 'zstd.inline', compression: 'zstd', mode: 'inline' },
  { name: 'zstd.pool', compression: 'zstd', mode: 'pool' },
];

interface Sample {
  gbps: number;
  /** CPU ms per GB of records: this process (client and LifecycleManager) and the worker. */
  clientMsPerGB: number;
  workerMsPerGB: number;
}

async function peerCpu(peer: Peer): Promise<number> {
  const f = (await peer.query('STAT')).split(' ').map(Number);
  return f[1]! + f[2]!;
}

/** The garbage collector as a function, exposed at run time (the runner is not started with --expose-gc). */
function gcNow(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface LeakReport {
  /** rss after each phase of calls, MiB, after a forced GC. */
  rssMiB: number[];
  arrayBuffersMiB: number[];
  /** rss growth over the second half of the phases, MiB: what a leak would show once the allocator has warmed up. */
  lateGrowthMiB: number;
  lateCalls: number;
  outBytes: number;
  /** rss growth over 200 compressSync calls (the known leak), MiB. */
  controlMiB: number;
}

/**
 * rss first grows while the allocator's per-thread arenas warm up (tens of
 * MiB over the first few thousand calls), then stays flat; a leak keeps
 * growing by about the output size per call. So the calls run in phases
 * and the growth over the later half is what counts.
 */
async function leakCheck(batch: Buffer, phases: number, callsPerPhase: number): Promise<LeakReport> {
  const gc = gcNow();
  const mem = () => {
    gc();
    return process.memoryUsage();
  };
  const rss: number[] = [];
  const ab: number[] = [];
  let outBytes = 0;
  const m0 = mem();
  rss.push(m0.rss / MiB);
  ab.push(m0.arrayBuffers / MiB);
  for (let p = 0; p < phases; p++) {
    for (let i = 0; i < callsPerPhase; i++) outBytes += (await compressBlock(BatchCodec.Lz4, batch, 1)).length;
    const m = mem();
    rss.push(m.rss / MiB);
    ab.push(m.arrayBuffers / MiB);
  }
  const half = Math.floor(phases / 2);
  const control0 = mem();
  for (let i = 0; i < 200; i++) compressSync(batch);
  const control1 = mem();
  return {
    rssMiB: rss,
    arrayBuffersMiB: ab,
    lateGrowthMiB: rss[phases]! - rss[half]!,
    lateCalls: (phases - half) * callsPerPhase,
    outBytes: outBytes / (phases * callsPerPhase),
    controlMiB: (control1.rss - control0.rss) / MiB,
  };
}

export const compression: BenchModule = {
  name: 'compression',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 5;
    const total = opts.quick ? 32 * MiB : 512 * MiB;
    const batches = Math.ceil(total / BATCH);
    const bytes = batches * BATCH;
    const records = generateRecords(0, BATCH_RECORDS * POOL_BATCHES, 1);
    const peers: Peer[] = [];
    const clients = new Map<string, ShuffleClient>();
    let lm: LifecycleManager | undefined;
    const results: BenchResult[] = [];
    try {
      const master = await spawnPeer(peerScript('e2e-master'), [], { profile: opts.profile, profileName: 'e2e-master-compression' });
      peers.push(master);
      const worker = await spawnPeer(peerScript('worker-server'), ['--master', `127.0.0.1:${master.port}`], { profile: opts.profile, profileName: 'worker-server-compression' });
      peers.push(worker);
      lm = await LifecycleManager.start({ appId: 'bench-compression', master: `127.0.0.1:${master.port}`, replicate: false, authToken: benchAppKey('bench-compression') });
      for (const v of VARIANTS) {
        clients.set(v.name, await ShuffleClient.connect({ appId: 'bench-compression', lifecycleManager: lm.address, compression: v.compression, compressionMode: v.mode, authToken: benchAppKey('bench-compression') }));
      }
      let nextShuffleId = 1;
      const run = async (v: Variant, n: number): Promise<Sample> => {
        const client = clients.get(v.name)!;
        const shuffleId = nextShuffleId++;
        const w0 = await peerCpu(worker);
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) {
          const at = (i % POOL_BATCHES) * BATCH;
          await client.pushData(shuffleId, 0, 0, i % PARTITIONS, records, at, BATCH, 1, PARTITIONS);
        }
        await client.mapperEnd(shuffleId, 0, 0, 1);
        const ns = Number(process.hrtime.bigint() - t0);
        const c = process.cpuUsage(c0);
        const w1 = await peerCpu(worker);
        await lm!.waitForStageEnd(shuffleId);
        await lm!.unregisterShuffle(shuffleId);
        const gb = (n * BATCH) / 1e9;
        return { gbps: (n * BATCH) / ns, clientMsPerGB: (c.user + c.system) / 1000 / gb, workerMsPerGB: (w1 - w0) / 1000 / gb };
      };

      const samples = new Map<string, Sample[]>(VARIANTS.map((v) => [v.name, []]));
      for (const v of VARIANTS) await run(v, Math.min(batches, 32)); // warm-up: JIT, threads, connections
      for (let i = 0; i < runs; i++) {
        const order = [...VARIANTS.slice(i % VARIANTS.length), ...VARIANTS.slice(0, i % VARIANTS.length)];
        for (const v of order) samples.get(v.name)!.push(await run(v, batches));
      }
      const gbps = (name: string) => median(samples.get(name)!.map((s) => s.gbps));
      const none = gbps('none');
      process.stderr.write(`compression: one mapper, ${formatBytes(bytes)} of TeraSort records per run, ${formatBytes(BATCH)} pushData batches awaited one by one, ${PARTITIONS} partitions, ${runs} runs\n`);
      for (const v of VARIANTS) {
        const s = samples.get(v.name)!;
        process.stderr.write(
          `  ${v.name.padEnd(11)} ${gbps(v.name).toFixed(3)} GB/s, CPU ms/GB client ${median(s.map((x) => x.clientMsPerGB)).toFixed(0)} worker ${median(s.map((x) => x.workerMsPerGB)).toFixed(0)}  runs: ${s.map((x) => x.gbps.toFixed(3)).join(' ')}\n`,
        );
        if (v.name !== 'none') results.push(result(`compression.${v.name}`, gbps(v.name), 'GB/s', none));
      }
      // Wall time swings with other load; the client's CPU per GB is the steadier vote.
      const cpu = (name: string) => median(samples.get(name)!.map((s) => s.clientMsPerGB));
      const faster = (codec: string) => (gbps(`${codec}.inline`) >= gbps(`${codec}.pool`) ? 'inline' : 'pool');
      const cheaper = (codec: string) => (cpu(`${codec}.inline`) <= cpu(`${codec}.pool`) ? 'inline' : 'pool');
      process.stderr.write(`  faster mode: lz4 ${faster('lz4')}, zstd ${faster('zstd')}; less client CPU per GB: lz4 ${cheaper('lz4')}, zstd ${cheaper('zstd')}\n`);

      const phases = opts.quick ? 4 : 8;
      const perPhase = opts.quick ? 300 : 1000;
      const leak = await leakCheck(records.subarray(0, BATCH), phases, perPhase);
      process.stderr.write(
        `compression.lz4.leak: ${phases} x ${perPhase} async lz4 compress calls (${formatBytes(BATCH)} in, ~${Math.round(leak.outBytes / 1024)} KiB out each); ` +
          `rss after each phase (MiB, after GC): ${leak.rssMiB.map((x) => x.toFixed(0)).join(' ')}; arrayBuffers ${leak.arrayBuffersMiB.map((x) => x.toFixed(1)).join(' ')}\n` +
          `  growth over the last ${leak.lateCalls} calls: ${leak.lateGrowthMiB.toFixed(1)} MiB (a leak of the output size would be ${((leak.lateCalls * leak.outBytes) / MiB).toFixed(0)} MiB); ` +
          `control, 200 compressSync calls: +${leak.controlMiB.toFixed(1)} MiB (output size x 200 = ${((200 * leak.outBytes) / MiB).toFixed(0)} MiB)\n`,
      );
      results.push(result('compression.lz4.leak', leak.lateGrowthMiB, 'MiB rss'));
    } finally {
      for (const c of clients.values()) await c.close().catch(() => undefined);
      await lm?.close().catch(() => undefined);
      await Promise.all(peers.map((p) => p.stop()));
    }
    return results;
  },
};
