/**
 * 200 shuffles through one cluster of real server processes (a master and
 * three workers), each with a random shape: 1–8 maps, 1–64 reduces, maps
 * that push nothing, partitions nobody pushes to, replication on (one
 * application) or off (another). Every partition of every shuffle must read
 * exactly what the winning map attempts pushed to it, and nothing when they
 * pushed nothing. Data is small: the shapes are the point, not the volume.
 *
 * The shapes come from a seed, printed at the start; BRAID_TEST_SEED
 * replays one.
 */
import { expect, test } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { addressKey } from '../../src/protocol/index.js';
import { mulberry32 as prng } from '../protocol/prng.js';
import { appKey, testTls } from '../security/fixture.js';
import { Cluster, onCleanup } from './cluster.js';
import { TEST_CLIENT_DEFAULTS, expectedDigests, multisetDiff } from './job.js';
import { TaskProcess, type MapResult, type MapSpec } from './tasks.js';

const SHUFFLES = 200;
/** Shuffles in flight at once, per application. */
const CONCURRENCY = 3;

interface App {
  replicate: boolean;
  lm: LifecycleManager;
  procs: TaskProcess[];
}

async function startApp(cluster: Cluster, replicate: boolean): Promise<App> {
  const appId = `many-${replicate ? 'r' : 'n'}-${process.pid}`;
  const lm = await LifecycleManager.start({ appId, master: cluster.masterAddress, replicate, heartbeatIntervalMs: 1000, rpcTimeoutMs: 5000, commitRetryMs: 5000, authToken: appKey(appId), tls: testTls() });
  onCleanup(() => lm.close());
  const procs = await TaskProcess.startMany(2, appId, addressKey(lm.address), TEST_CLIENT_DEFAULTS);
  return { replicate, lm, procs };
}

/** Runs one shuffle of a random shape and checks every partition; returns what it covered. */
async function oneShuffle(app: App, shuffleId: number, r: () => number): Promise<{ maps: number; reduces: number; emptyMaps: number; emptyPartitions: number }> {
  const numMappers = 1 + Math.floor(r() * 8);
  const numPartitions = 1 + Math.floor(r() * 64);
  const specs: MapSpec[] = Array.from({ length: numMappers }, (_, mapId) => ({
    shuffleId,
    mapId,
    attemptId: 0,
    numMappers,
    numPartitions,
    seed: shuffleId,
    // A quarter of the maps push nothing; the others a few small batches.
    batches: r() < 0.25 ? 0 : 1 + Math.floor(r() * 12),
    maxSize: 2048,
  }));
  const maps: MapResult[] = await Promise.all(specs.map((s, i) => app.procs[i % app.procs.length]!.map(s).result));
  const reads = await Promise.all(Array.from({ length: numPartitions }, (_, p) => app.procs[p % app.procs.length]!.reduce({ shuffleId, partitionId: p }).result));
  let emptyPartitions = 0;
  for (let p = 0; p < numPartitions; p++) {
    const expected = expectedDigests(maps, p);
    const got = reads.find((x) => x.partitionId === p)!.digests;
    if (expected.length === 0) emptyPartitions++;
    expect({ shuffleId, replicate: app.replicate, partition: p, ...multisetDiff(expected, got), count: got.length }).toEqual({
      shuffleId,
      replicate: app.replicate,
      partition: p,
      missing: 0,
      extra: 0,
      count: expected.length,
    });
  }
  expect(maps.every((m) => m.winner)).toBe(true);
  await app.lm.unregisterShuffle(shuffleId);
  return { maps: numMappers, reduces: numPartitions, emptyMaps: specs.filter((s) => s.batches === 0).length, emptyPartitions };
}

test(`${SHUFFLES} shuffles of random shapes, replication on and off, each read exactly`, async () => {
  const seed = Number(process.env.BRAID_TEST_SEED ?? Date.now() % 1_000_000);
  process.stdout.write(`many-shuffles: seed ${seed} (BRAID_TEST_SEED=${seed} replays it)\n`);
  const started = performance.now();
  const cluster = await Cluster.start({ workers: 3 });
  const both = await Promise.all([startApp(cluster, true), startApp(cluster, false)]);
  // Shapes are drawn up front, in order, so a seed gives the same shuffles whatever the timing.
  const r = prng(seed);
  const queues = new Map<App, { shuffleId: number; seed: number }[]>(both.map((app) => [app, []]));
  for (let shuffleId = 0; shuffleId < SHUFFLES; shuffleId++) queues.get(both[shuffleId % 2]!)!.push({ shuffleId, seed: Math.floor(r() * 2 ** 31) });
  const totals = { maps: 0, reduces: 0, emptyMaps: 0, emptyPartitions: 0, allEmpty: 0 };
  const lane = async (app: App) => {
    for (let job = queues.get(app)!.shift(); job !== undefined; job = queues.get(app)!.shift()) {
      const s = await oneShuffle(app, job.shuffleId, prng(job.seed));
      totals.maps += s.maps;
      totals.reduces += s.reduces;
      totals.emptyMaps += s.emptyMaps;
      totals.emptyPartitions += s.emptyPartitions;
      if (s.emptyPartitions === s.reduces) totals.allEmpty++;
    }
  };
  await Promise.all(both.flatMap((app) => Array.from({ length: CONCURRENCY }, () => lane(app))));
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`many-shuffles: ${SHUFFLES} shuffles, ${totals.maps} maps (${totals.emptyMaps} empty), ${totals.reduces} partitions (${totals.emptyPartitions} empty, ${totals.allEmpty} shuffles with no data) in ${seconds.toFixed(1)} s\n`);
  expect(totals.emptyMaps).toBeGreaterThan(0);
  expect(totals.emptyPartitions).toBeGreaterThan(0);
}, 600_000);
