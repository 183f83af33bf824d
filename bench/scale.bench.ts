/**
 * scale: shuffle time as the partition count grows with the data fixed, and
 * as the data grows with the partition count fixed.
 *
 * Everything runs in this process: a standalone cluster (master + 2
 * workers, replication on, data under os.tmpdir()), a LifecycleManager and
 * one ShuffleClient (lz4). One shuffle: registration (timed on its own),
 * then 2 maps at once, each generating its half of the TeraSort records
 * (100 bytes, uniform keys, so every partition gets data), range
 * partitioning them into a 4,000-byte buffer per partition and handing each
 * full buffer to mergeData (the client merges them per worker pair into
 * ~64 KiB PushMergedData requests); the partial buffers go at the end, then
 * mapperEnd. Then every partition is read, 32 at a time, and the records
 * read must match the records generated (count and order-independent
 * checksum). Timed: registration to the last partition read. After the
 * clock stops, the committed copies are counted (2 per partition with
 * replication; fewer is reported) and the shuffle is unregistered.
 *
 * The batches stay the same size at every point (4,000 bytes while a
 * partition's share of a map exceeds it, less from 10,000 partitions on),
 * so the points differ by what grows with the partition count: slots,
 * files, commit and per-partition reads.
 *
 * Reported: scale.partitions.<R> (seconds), scale.partitions_10x =
 * time(1,000) / time(100) (1 is ideal), scale.data.<size> and
 * scale.data_2x = time(2x data) / time(1x data) at 100 partitions (2 is
 * ideal; below 2 means fixed costs weigh in). Quick: 32 MiB, 100 and 1,000
 * partitions, 2 rounds; full: 256 MiB, 100 / 1,000 / 10,000 / 50,000
 * partitions, 3 rounds (10,000 and 50,000 once). Points run round-robin
 * (order flipped every round), medians reported. A point that fails (a
 * limit hit) is reported on stderr with its error and left out.
 */
import { LifecycleManager } from '../src/client/lifecycle/index.js';
import { ShuffleClient } from '../src/client/shuffle-client.js';
import { KeyRangePartitioner, RECORD_SIZE, RecordChecksum, generateRecords, recordSlice } from '../src/jobs/data/index.js';
import { BraidError, ErrorCodes, asBraidError } from '../src/protocol/index.js';
import { startStandalone } from '../src/server/standalone.js';
import { formatBytes } from './lib/format.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { benchAppKey, benchSecret } from './lib/security.js';

const MiB = 1024 * 1024;
const MAPS = 2;
/** Bytes per mergeData call: 40 records. */
const BATCH_BYTES = 40 * RECORD_SIZE;
const READ_CONCURRENCY = 32;
const BLOCK_RECORDS = 10_000;
const SEED = 3;

interface Point {
  label: string;
  partitions: number;
  bytes: number;
}

interface Shuffler {
  client: ShuffleClient;
  lm: LifecycleManager;
  nextShuffleId: number;
}

async function mapTask(s: Shuffler, shuffleId: number, mapId: number, totalRecords: number, R: number): Promise<RecordChecksum> {
  const partitioner = KeyRangePartitioner.uniform(R);
  const checksum = new RecordChecksum();
  // One slab for all partition buffers: 50,000 small Buffers would be 50,000 allocations.
  const slab = Buffer.allocUnsafe(R * BATCH_BYTES);
  const fill = new Int32Array(R);
  const flush = (p: number) => s.client.mergeData(shuffleId, mapId, 0, p, slab, p * BATCH_BYTES, fill[p]!, MAPS, R);
  const { startRecord, count } = recordSlice(totalRecords, MAPS, mapId);
  const block = Buffer.allocUnsafe(BLOCK_RECORDS * RECORD_SIZE);
  for (let done = 0; done < count; done += BLOCK_RECORDS) {
    const n = Math.min(BLOCK_RECORDS, count - done);
    const records = generateRecords(startRecord + done, n, SEED + mapId, block.subarray(0, n * RECORD_SIZE));
    checksum.add(records);
    for (let o = 0; o < records.length; o += RECORD_SIZE) {
      const p = partitioner.partition(records, o);
      records.copy(slab, p * BATCH_BYTES + fill[p]!, o, o + RECORD_SIZE);
      fill[p]! += RECORD_SIZE;
      // mergeData has taken (compressed) the bytes when it resolves: the buffer is free again.
      if (fill[p] === BATCH_BYTES) {
        await flush(p);
        fill[p] = 0;
      }
    }
  }
  for (let p = 0; p < R; p++) if (fill[p]! > 0) await flush(p);
  await s.client.mapperEnd(shuffleId, mapId, 0, MAPS);
  return checksum;
}

interface Timing {
  seconds: number;
  /** Registration alone: slots from the master, every file reserved (created) on the workers. */
  registerSeconds: number;
  /** Start to the last mapperEnd answered (registration, pushes, acks). */
  mapSeconds: number;
}

async function shuffleOnce(s: Shuffler, point: Point): Promise<Timing> {
  const shuffleId = s.nextShuffleId++;
  const R = point.partitions;
  const totalRecords = Math.floor(point.bytes / RECORD_SIZE);
  try {
    const t0 = performance.now();
    // Registered here rather than by the first push, only so that its share can be shown; the client's own registration then finds it done.
    await s.lm.registerShuffle(shuffleId, MAPS, R);
    const registerSeconds = (performance.now() - t0) / 1000;
    const inputs = await Promise.all(Array.from({ length: MAPS }, (_, m) => mapTask(s, shuffleId, m, totalRecords, R)));
    const mapSeconds = (performance.now() - t0) / 1000;
    const output = new RecordChecksum();
    let next = 0;
    let empty = 0;
    let failed = false;
    await Promise.all(
      Array.from({ length: Math.min(READ_CONCURRENCY, R) }, async () => {
        while (next < R && !failed) {
          const p = next++;
          let got = 0;
          try {
            for await (const batch of s.client.readPartition(shuffleId, p)) {
              output.add(batch);
              got += batch.length;
            }
          } catch (err) {
            failed = true;
            throw err;
          }
          if (got === 0) empty++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const input = inputs.reduce((a, c) => a.merge(c), new RecordChecksum());
    if (!input.equals(output)) {
      throw new BraidError(ErrorCodes.DATA_LOST, `scale ${point.label}: read ${JSON.stringify(output.toJSON())}, pushed ${JSON.stringify(input.toJSON())}`);
    }
    if (empty > 0) process.stderr.write(`  scale ${point.label}: ${empty} of ${R} partitions got no records\n`);
    // Replication on: every partition should have two committed copies. A missing one loses no data, but say so.
    const group = await s.lm.getReducerFileGroup(shuffleId, 0, R);
    const copies = group.partitions.reduce((n, g) => n + g.files.length, 0);
    if (copies < 2 * R) process.stderr.write(`  scale ${point.label}: only ${copies} of ${2 * R} partition copies committed\n`);
    return { seconds, registerSeconds, mapSeconds };
  } finally {
    await s.lm.unregisterShuffle(shuffleId).catch(() => undefined);
  }
}

export const scale: BenchModule = {
  name: 'scale',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 2 : 3;
    // Points this slow run once even in the full suite (registration alone takes tens of seconds, see BENCHMARKS.md).
    const runOnce = new Set([10_000, 50_000]);
    const bytes = opts.quick ? 32 * MiB : 256 * MiB;
    const counts = opts.quick ? [100, 1_000] : [100, 1_000, 10_000, 50_000];
    const points: Point[] = counts.map((partitions) => ({ label: `partitions.${partitions}`, partitions, bytes }));
    const twice: Point = { label: `data.${formatBytes(2 * bytes).replace(' ', '')}`, partitions: 100, bytes: 2 * bytes };
    points.push(twice);

    const cluster = await startStandalone({ workers: 2, authSecret: benchSecret() });
    const appId = `bench-scale-${process.pid}`;
    const lm = await LifecycleManager.start({ appId, master: cluster.masterAddress, authToken: benchAppKey(appId) });
    const client = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: benchAppKey(appId) });
    const s: Shuffler = { client, lm, nextShuffleId: 1 };
    const times = new Map<string, number[]>(points.map((p) => [p.label, []]));
    const mapTimes = new Map<string, number[]>(points.map((p) => [p.label, []]));
    const registerTimes = new Map<string, number[]>(points.map((p) => [p.label, []]));
    const failures = new Map<string, string>();
    try {
      // Warm-up: JIT and connections, a small shuffle.
      await shuffleOnce(s, { label: 'warm-up', partitions: 100, bytes: 4 * MiB });
      for (let i = 0; i < runs; i++) {
        const order = i % 2 === 0 ? points : [...points].reverse();
        for (const point of order) {
          if (failures.has(point.label) || (i > 0 && runOnce.has(point.partitions))) continue;
          try {
            const t = await shuffleOnce(s, point);
            times.get(point.label)!.push(t.seconds);
            mapTimes.get(point.label)!.push(t.mapSeconds);
            registerTimes.get(point.label)!.push(t.registerSeconds);
            process.stderr.write(
              `  ${point.label} (${formatBytes(point.bytes)}, ${point.partitions} partitions): ${t.seconds.toFixed(2)} s ` +
                `(register ${t.registerSeconds.toFixed(2)} s, register + map ${t.mapSeconds.toFixed(2)} s, read ${(t.seconds - t.mapSeconds).toFixed(2)} s)\n`,
            );
          } catch (err) {
            // A point that cannot run (a limit hit) is reported as such; the others still count.
            const e = asBraidError(err);
            failures.set(point.label, `${e.code}: ${e.message}`);
            process.stderr.write(`  ${point.label} FAILED: ${e.code}: ${e.message}\n`);
          }
        }
      }
    } finally {
      await client.close();
      await lm.close();
      await cluster.close();
    }

    const med = (label: string): number | undefined => {
      const t = times.get(label)!;
      return t.length > 0 ? median(t) : undefined;
    };
    const results: BenchResult[] = [];
    process.stderr.write(`scale: ${MAPS} maps, ${BATCH_BYTES}-byte mergeData batches, replication on, lz4, ${runs} runs per point\n`);
    for (const p of points) {
      const m = med(p.label);
      const line =
        m === undefined
          ? `failed (${failures.get(p.label)})`
          : `${m.toFixed(2)} s (register ${median(registerTimes.get(p.label)!).toFixed(2)} s, register + map ${median(mapTimes.get(p.label)!).toFixed(2)} s), ` +
            `${(p.bytes / m / 1e6).toFixed(1)} MB/s  runs: ${times.get(p.label)!.map((t) => t.toFixed(2)).join(' ')}`;
      process.stderr.write(`  ${p.label}: ${formatBytes(p.bytes)}, ${p.partitions} partitions: ${line}\n`);
      if (m !== undefined) results.push(result(`scale.${p.label}`, m, 's'));
    }
    const t100 = med('partitions.100');
    const t1000 = med('partitions.1000');
    const t2x = med(twice.label);
    if (t100 !== undefined && t1000 !== undefined) results.push(result('scale.partitions_10x', t1000 / t100, 'x'));
    if (t100 !== undefined && t2x !== undefined) results.push(result('scale.data_2x', t2x / t100, 'x'));
    return results;
  },
};
