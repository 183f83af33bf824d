/**
 * terasort: the end-to-end TeraSort shuffle through Braid, and the same
 * shuffle through Redis (the peer), measured in the same run.
 *
 * Braid: runJob('terasort') against an in-process standalone cluster (a
 * master and 2 workers in this process, data in a temporary directory),
 * replication on and lz4 compression, as `npm start` runs it: 8 maps and
 * 8 reduces in 2 forked task processes.
 *
 * Redis: bench/redis-peer: a redis-server started here (loopback, free port,
 * persistence off), the same 8 map and 8 reduce tasks in 2 forked task
 * processes, mappers RPUSH 256 KiB partition buffers, reducers LRANGE their
 * list in slices; same records, partitioner, sort and validation.
 *
 * Runs alternate Braid/Redis (order flipped every round); both jobs must
 * validate. Reported: terasort.e2e (Braid seconds, median),
 * terasort.e2e.mbps, and terasort.vs_redis = Braid MB/s against Redis MB/s,
 * whose ratio is Redis seconds / Braid seconds (higher: Braid faster).
 * Without redis-server on PATH only the Braid figures are reported.
 */
import { runJob } from '../src/jobs/runner/driver.js';
import { BraidError, ErrorCodes, asBraidError } from '../src/protocol/index.js';
import { startStandalone } from '../src/server/standalone.js';
import { RECORD_SIZE } from '../src/jobs/data/index.js';
import { formatBytes } from './lib/format.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { connectRedis, ensureRedisClientInstalled } from './redis-peer/client.js';
import { runRedisTeraSort } from './redis-peer/driver.js';
import { redisServerVersion, startRedisServer, type RedisServer } from './redis-peer/server.js';
import { benchSecret } from './lib/security.js';

const MiB = 1024 * 1024;
const MAPS = 8;
const REDUCES = 8;
const PROCESSES = 2;
const SEED = 1;

interface Run {
  seconds: number;
  mapSeconds: number;
  reduceSeconds: number;
}

function checkValid(who: string, summary: { validated: boolean; problems: string[]; bytes: number }, bytes: number): void {
  if (!summary.validated) throw new BraidError(ErrorCodes.DATA_LOST, `${who} TeraSort did not validate: ${summary.problems.join('; ')}`);
  if (summary.bytes !== bytes) throw new BraidError(ErrorCodes.DATA_LOST, `${who} TeraSort moved ${summary.bytes} bytes, expected ${bytes}`);
}

function describe(runs: readonly Run[], bytes: number): string {
  const s = median(runs.map((r) => r.seconds));
  return (
    `${s.toFixed(2)} s (map ${median(runs.map((r) => r.mapSeconds)).toFixed(2)} s, reduce ${median(runs.map((r) => r.reduceSeconds)).toFixed(2)} s), ` +
    `${(bytes / s / 1e6).toFixed(1)} MB/s  runs: ${runs.map((r) => r.seconds.toFixed(2)).join(' ')}`
  );
}

export const terasort: BenchModule = {
  name: 'terasort',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 1 : 3;
    const size = opts.quick ? 128 * MiB : 1024 * MiB;
    const totalRecords = Math.floor(size / RECORD_SIZE);
    const bytes = totalRecords * RECORD_SIZE;

    let version = redisServerVersion();
    if (version === undefined) process.stderr.write('terasort: redis-server is not on PATH (sh scripts/install-redis.sh installs it): terasort.vs_redis skipped\n');
    else {
      try {
        ensureRedisClientInstalled();
      } catch (err) {
        // The Braid figures do not need the peer: report them anyway.
        process.stderr.write(`terasort: ${asBraidError(err).message}: terasort.vs_redis skipped\n`);
        version = undefined;
      }
    }

    const cluster = await startStandalone({ workers: 2, authSecret: benchSecret() });
    let redis: RedisServer | undefined;
    const braidRuns: Run[] = [];
    const redisRuns: Run[] = [];
    try {
      if (version !== undefined) redis = await startRedisServer();
      const braid = async () => {
        const r = await runJob({
          job: 'terasort',
          params: { totalRecords, seed: SEED },
          numMaps: MAPS,
          numReduces: REDUCES,
          master: cluster.masterAddress,
          authSecret: benchSecret(),
          processes: PROCESSES,
          replicate: true,
          client: { compression: 'lz4' },
        });
        checkValid('Braid', r.summary, bytes);
        braidRuns.push(r);
        process.stderr.write(`  braid ${r.seconds.toFixed(2)} s (map ${r.mapSeconds.toFixed(2)}, reduce ${r.reduceSeconds.toFixed(2)})\n`);
      };
      const viaRedis = async (server: RedisServer) => {
        const admin = await connectRedis(server.host, server.port);
        try {
          await admin.flushall();
        } finally {
          await admin.quit();
        }
        const r = await runRedisTeraSort({
          host: server.host,
          port: server.port,
          params: { totalRecords, seed: SEED, pushBufferSize: 256 * 1024, pushesInFlight: 16, rangeSlice: 16 },
          numMaps: MAPS,
          numReduces: REDUCES,
          processes: PROCESSES,
        });
        checkValid('Redis', r.summary, bytes);
        redisRuns.push(r);
        process.stderr.write(`  redis ${r.seconds.toFixed(2)} s (map ${r.mapSeconds.toFixed(2)}, reduce ${r.reduceSeconds.toFixed(2)})\n`);
      };
      for (let i = 0; i < runs; i++) {
        const order: (() => Promise<void>)[] = redis === undefined ? [braid] : [braid, () => viaRedis(redis!)];
        if (i % 2 === 1) order.reverse();
        for (const step of order) await step();
      }
    } finally {
      await redis?.stop();
      await cluster.close();
    }

    const braidS = median(braidRuns.map((r) => r.seconds));
    process.stderr.write(
      `terasort: ${formatBytes(size)} (${totalRecords} records), ${MAPS} maps x ${REDUCES} reduces in ${PROCESSES} processes, ${runs} runs each\n` +
        `  braid (2 workers in process, replication on, lz4) ${describe(braidRuns, bytes)}\n`,
    );
    const results = [result('terasort.e2e', braidS, 's'), result('terasort.e2e.mbps', bytes / braidS / 1e6, 'MB/s')];
    if (redisRuns.length > 0) {
      const redisS = median(redisRuns.map((r) => r.seconds));
      process.stderr.write(`  redis ${version} (RPUSH 256 KiB / LRANGE) ${describe(redisRuns, bytes)}\n  Redis s / Braid s = ${(redisS / braidS).toFixed(2)}\n`);
      results.push(result('terasort.vs_redis', bytes / braidS / 1e6, 'MB/s', bytes / redisS / 1e6));
    }
    return results;
  },
};
