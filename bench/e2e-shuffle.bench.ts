/**
 * e2e.shuffle: a whole shuffle through the client, against raw socket and
 * disk baselines moving the same bytes, in the same run.
 *
 * Cluster (processes, started once): a master (peers/e2e-master.js), two
 * workers (peers/worker-server.js --master), MAPPERS executor processes
 * (peers/e2e-task.js), and in this process two LifecycleManagers, one with
 * replication off and one with it on.
 *
 * Braid, per run (timed from the first push to the last byte read):
 * every executor runs one map task that pushes its share of TOTAL bytes of
 * compressible data (~2:1 for lz4; the client's defaults: lz4, inline) with
 * pushData in 256 KiB batches to PARTITIONS partitions in turn, then
 * mapperEnd; then the executors read the partitions (split among them, all
 * at once) with readPartition. Registration, slot reservation, the
 * stage-end commit and the reducers' exactly-once checks are all inside.
 * The shuffle is unregistered after the run (untimed), deleting its files.
 *
 * Baseline (raw, peers/worker-raw.js): this process pushes the same number
 * of bytes as 256 KiB length-prefixed messages over one node:net connection
 * (16 in flight, each acked) to a peer that appends them to a file with
 * gathered writes and closes it at the commit message; then it reads the
 * file back over a raw socket (1 MiB reads into reused buffers). Time =
 * push + read. No compression, no partitioning, no replication: the cost
 * of moving the bytes through a socket, a disk file and a socket again.
 *
 * Figures are bytes of the shuffle (uncompressed) per second; ratio =
 * Braid / raw. Runs rotate the order raw / braid / braid replicated.
 */
import { LifecycleManager } from '../src/client/lifecycle/index.js';
import { BraidError, ErrorCodes } from '../src/protocol/index.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer, type Peer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { rawFetch } from './worker-fetch.bench.js';
import { rawPushFile } from './worker-push.bench.js';
import { benchAppKey } from './lib/security.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MAPPERS = 2;
const PARTITIONS = 8;
const BATCH = 256 * KiB;

interface Sample {
  gbps: number;
  /** CPU ms per GB summed over every process taking part. */
  cpuMsPerGB: number;
  /** The same, per role (executors, workers, ... or client and server for raw). */
  byRole: Record<string, number>;
}

/** CPU µs of a peer: the last two numbers of its STAT or CPU answer. */
async function cpuOf(peer: Peer, command: string): Promise<number> {
  const f = (await peer.query(command)).split(' ').map(Number);
  return f[f.length - 2]! + f[f.length - 1]!;
}

async function ok(peer: Peer, command: string): Promise<number> {
  const answer = await peer.query(command);
  const m = /^OK (\d+)$/.exec(answer);
  if (m === null) throw new BraidError(ErrorCodes.INTERNAL, `${command.split(' ')[0]} failed: ${answer}`);
  return Number(m[1]);
}

export const e2eShuffle: BenchModule = {
  name: 'e2e.shuffle',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 5;
    const total = opts.quick ? 96 * MiB : 1024 * MiB;
    const perMapper = total / MAPPERS;
    const peers: Peer[] = [];
    const lms: LifecycleManager[] = [];
    const results: BenchResult[] = [];
    try {
      const master = await spawnPeer(peerScript('e2e-master'), [], { profile: opts.profile });
      peers.push(master);
      const cluster = await Promise.all([
        ...[0, 1].map((i) =>
          spawnPeer(peerScript('worker-server'), ['--master', `127.0.0.1:${master.port}`], { profile: opts.profile, profileName: `worker-server-e2e-${i}` }),
        ),
        ...Array.from({ length: MAPPERS }, (_, i) => spawnPeer(peerScript('e2e-task'), [], { profile: opts.profile, profileName: `e2e-task-${i}` })),
        spawnPeer(peerScript('worker-raw'), [], { profile: opts.profile, profileName: 'worker-raw-e2e' }),
      ]);
      peers.push(...cluster);
      const workers = cluster.slice(0, 2);
      const tasks = cluster.slice(2, 2 + MAPPERS);
      const raw = cluster[cluster.length - 1]!;
      const masterAddress = `127.0.0.1:${master.port}`;
      lms.push(await LifecycleManager.start({ appId: 'bench-e2e', master: masterAddress, replicate: false, authToken: benchAppKey('bench-e2e') }));
      lms.push(await LifecycleManager.start({ appId: 'bench-e2e-repl', master: masterAddress, replicate: true, authToken: benchAppKey('bench-e2e-repl') }));

      /** CPU µs so far of every process of a variant, by role, so a figure can say what the whole shuffle cost and where. */
      const cpuNow = async (which: 'raw' | 'braid'): Promise<Record<string, number>> => {
        const own = process.cpuUsage();
        const sum = async (ps: Promise<number>[]) => (await Promise.all(ps)).reduce((a, b) => a + b, 0);
        const runner = own.user + own.system;
        if (which === 'raw') return { client: runner, server: await cpuOf(raw, 'STAT') };
        const [m, w, t] = await Promise.all([cpuOf(master, 'CPU'), sum(workers.map((x) => cpuOf(x, 'STAT'))), sum(tasks.map((x) => cpuOf(x, 'CPU')))]);
        return { executors: t, workers: w, lifecycleManager: runner, master: m };
      };
      const measure = async (which: 'raw' | 'braid', bytes: number, work: () => Promise<void>): Promise<Sample> => {
        const c0 = await cpuNow(which);
        const t0 = process.hrtime.bigint();
        await work();
        const ns = Number(process.hrtime.bigint() - t0);
        const c1 = await cpuNow(which);
        const gb = bytes / 1e9;
        const byRole = Object.fromEntries(Object.keys(c0).map((k) => [k, (c1[k]! - c0[k]!) / 1000 / gb]));
        return { gbps: bytes / ns, cpuMsPerGB: Object.values(byRole).reduce((a, b) => a + b, 0), byRole };
      };

      /** Time of the map phase of each Braid run (push + mapperEnd), the rest being the reads. */
      const mapMs = { braid: [] as number[], replicated: [] as number[] };
      const rawBody = Buffer.allocUnsafe(BATCH);
      for (let i = 0; i < BATCH; i++) rawBody[i] = (i * 2654435761) >>> 24;
      let rawSeq = 0;
      const rawRun = async (bytes: number): Promise<Sample> => {
        const name = `e2e-${rawSeq++}`;
        const s = await measure('raw', bytes, async () => {
          await rawPushFile(raw.port, name, rawBody, bytes / BATCH, 16);
          const got = await rawFetch(raw.port, name);
          if (got !== bytes) throw new BraidError(ErrorCodes.DATA_LOST, `raw read ${got} bytes of ${bytes}`);
        });
        await raw.query('CLEAN');
        return s;
      };

      let nextShuffleId = 1;
      const braidRun = (lm: LifecycleManager, phaseMs: number[]) => async (bytes: number): Promise<Sample> => {
        const shuffleId = nextShuffleId++;
        const each = bytes / MAPPERS;
        const lmPort = lm.address.port;
        const s = await measure('braid', bytes, async () => {
          const t0 = performance.now();
          await Promise.all(tasks.map((t, m) => ok(t, `MAP ${lm.appId} ${lmPort} ${shuffleId} ${m} ${each} ${BATCH} ${MAPPERS} ${PARTITIONS}`)));
          phaseMs.push(performance.now() - t0);
          const read = await Promise.all(
            tasks.map((t, k) => {
              const mine = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % tasks.length === k);
              return ok(t, `REDUCE ${lm.appId} ${lmPort} ${shuffleId} ${mine.join(',')}`);
            }),
          );
          const got = read.reduce((a, b) => a + b, 0);
          if (got !== bytes) throw new BraidError(ErrorCodes.DATA_LOST, `reducers read ${got} bytes of ${bytes}`);
        });
        await lm.unregisterShuffle(shuffleId);
        return s;
      };

      const variants = [
        { name: 'raw', run: rawRun },
        { name: 'braid', run: braidRun(lms[0]!, mapMs.braid) },
        { name: 'replicated', run: braidRun(lms[1]!, mapMs.replicated) },
      ];
      const samples: Record<string, Sample[]> = { raw: [], braid: [], replicated: [] };
      // One untimed round: JIT, connections, registration paths, page cache.
      for (const v of variants) await v.run(16 * MiB);
      for (let i = 0; i < runs; i++) {
        const order = [...variants.slice(i % 3), ...variants.slice(0, i % 3)];
        for (const v of order) samples[v.name]!.push(await v.run(total));
      }
      const line = (s: Sample[], maps?: number[]) =>
        `${median(s.map((x) => x.gbps)).toFixed(3)} GB/s, CPU ms/GB ${median(s.map((x) => x.cpuMsPerGB)).toFixed(0)} ` +
        `(${Object.keys(s[0]!.byRole).map((k) => `${k} ${median(s.map((x) => x.byRole[k]!)).toFixed(0)}`).join(', ')})` +
        (maps ? `, map phase ${median(maps.slice(1)).toFixed(0)} ms of ${((total / median(s.map((x) => x.gbps))) / 1e6).toFixed(0)}` : '') +
        `  runs: ${s.map((x) => x.gbps.toFixed(3)).join(' ')}`;
      process.stderr.write(
        `e2e.shuffle: ${formatBytes(total)} (${MAPPERS} mappers x ${formatBytes(perMapper)}, ${PARTITIONS} partitions, ${formatBytes(BATCH)} pushData batches, lz4 inline), ${runs} runs\n` +
          `  raw        ${line(samples.raw!)}\n` +
          `  braid      ${line(samples.braid!, mapMs.braid)}\n` +
          `  replicated ${line(samples.replicated!, mapMs.replicated)}\n`,
      );
      const r = median(samples.raw!.map((s) => s.gbps));
      results.push(result('e2e.shuffle', median(samples.braid!.map((s) => s.gbps)), 'GB/s', r));
      results.push(result('e2e.shuffle.replicated', median(samples.replicated!.map((s) => s.gbps)), 'GB/s', r));
    } finally {
      for (const lm of lms) await lm.close().catch(() => undefined);
      await Promise.all(peers.map((p) => p.stop()));
    }
    return results;
  },
};
