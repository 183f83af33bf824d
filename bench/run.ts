/**
 * Braid's benchmark suite runner.
 *
 *   node dist-bench/bench/run.js [--quick] [--only name,name] [--profile]
 *
 * --quick    fewer runs, smaller sizes: the whole suite stays under a minute
 * --only     run the modules whose name equals, or starts with `<name>.`, one of these
 * --profile  start bench peers under --cpu-prof (profiles in bench/profiles/)
 *
 * Writes bench/results.json (the results of this invocation only) and prints
 * a Markdown table. To add a benchmark, add its module to BENCHMARKS.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BraidError, ErrorCodes } from '../src/protocol/index.js';
import { codec } from './codec.bench.js';
import { resultsTable } from './lib/format.js';
import type { BenchModule, BenchOptions, BenchResult } from './lib/types.js';
import { transportPush } from './transport-push.bench.js';
import { transportPushTls } from './transport-push-tls.bench.js';
import { rawBaselines } from './raw-baselines.bench.js';
import { scale } from './scale.bench.js';
import { smallShuffle } from './small-shuffle.bench.js';
import { terasort } from './terasort.bench.js';
import { compression } from './compression.bench.js';
import { e2eShuffle } from './e2e-shuffle.bench.js';
import { haFailover } from './ha-failover.bench.js';
import { workerFetch } from './worker-fetch.bench.js';
import { workerPush } from './worker-push.bench.js';

/** The registry, in run order. */
const BENCHMARKS: BenchModule[] = [rawBaselines, codec, transportPush, transportPushTls, workerPush, workerFetch, e2eShuffle, compression, terasort, smallShuffle, scale, haFailover];

const RESULTS_PATH = fileURLToPath(new URL('../../bench/results.json', import.meta.url));

function selected(only: string | undefined): BenchModule[] {
  if (only === undefined) return BENCHMARKS;
  const wanted = only.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => matches(b.name, w)));
  if (unknown.length > 0) {
    throw new BraidError(ErrorCodes.CONFIG, `--only: no benchmark named ${unknown.join(', ')} (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
  }
  return BENCHMARKS.filter((b) => wanted.some((w) => matches(b.name, w)));
}

function matches(name: string, wanted: string): boolean {
  return name === wanted || name.startsWith(`${wanted}.`);
}

function parseFlags(): { quick?: boolean; only?: string; profile?: boolean } {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        profile: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    throw new BraidError(ErrorCodes.CONFIG, `${err instanceof Error ? err.message : String(err)}; usage: run.js [--quick] [--only name,name] [--profile]`);
  }
}

async function main(): Promise<void> {
  const values = parseFlags();
  const opts: BenchOptions = { quick: values.quick ?? false, profile: values.profile ?? false };
  const modules = selected(values.only);
  const results: BenchResult[] = [];
  const started = Date.now();
  const loadBefore = loadavg()[0]!;
  process.stderr.write(`node ${process.version}, ${availableParallelism()} CPUs, load average ${loadBefore.toFixed(2)}\n`);
  for (const m of modules) {
    const t0 = Date.now();
    process.stderr.write(`== ${m.name} (${opts.quick ? 'quick' : 'full'})\n`);
    results.push(...(await m.run(opts)));
    process.stderr.write(`== ${m.name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${resultsTable(results)}\n\n`);
  process.stdout.write(`${results.length} results in ${((Date.now() - started) / 1000).toFixed(1)} s, written to ${RESULTS_PATH}\n`);
  // Loopback figures swing with anything else running; say so rather than let a busy machine pass for a slow Braid.
  // Only the figure from before the run counts: the suite itself keeps both cores busy.
  if (loadBefore > availableParallelism() / 2) {
    process.stdout.write(`warning: load average was ${loadBefore.toFixed(2)} on ${availableParallelism()} CPUs: absolute figures are unreliable, compare ratios\n`);
  }
}

main().catch((err: unknown) => {
  // A usage mistake needs its message, not a stack.
  const usage = err instanceof BraidError && err.code === ErrorCodes.CONFIG;
  process.stderr.write(`bench failed: ${err instanceof Error ? (usage ? err.message : (err.stack ?? err.message)) : String(err)}\n`);
  process.exit(usage ? 2 : 1);
});
