#!/usr/bin/env node
/**
 * The `braid` command:
 *
 *   braid terasort  [--size 1g] [--maps 8] [--reduces 8] [--master host:port] [--input dir] [--output dir]
 *   braid wordcount [--size 64m] [--maps 4] [--reduces 4] [--master host:port]
 *   braid gensort   --records N --output file [--seed 1] [--start 0]
 *   braid status    --master host:port
 *   braid worker    decommission|status --worker host:port
 *
 * Without --master, jobs run on an embedded standalone cluster (a master and
 * --workers workers, replication on) whose data lives in a temporary directory.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { humanBytes } from './format.js';
import { BraidError, DecommissionWorker, ErrorCodes, GetStatus, Role, asBraidError, parseAddress, type Address } from '../protocol/index.js';
import { startStandalone, type StandaloneHandle } from '../server/standalone.js';
import { connect } from '../transport/index.js';
import { RECORD_SIZE, writeGensortFile } from '../jobs/data/index.js';
import { runJob, type Phase } from '../jobs/runner/driver.js';
import { Args } from './args.js';
import { ProgressBar } from './progress.js';

const USAGE = `usage:
  braid terasort  [--size 1g] [--maps 8] [--reduces 8] [--master host:port] [--input dir] [--output dir]
                  [--workers 2] [--replicate|--no-replicate] [--processes 2] [--compression lz4|zstd|none] [--seed 1]
  braid wordcount [--size 64m] [--maps 4] [--reduces 4] [--master host:port] [--workers 2] [--replicate|--no-replicate] [--processes 2]
  braid gensort   --records N --output file [--seed 1] [--start 0]
  braid status    --master host:port
  braid worker    decommission|status --worker host:port   (decommission: no new work, reads served until its shuffles are gone, then it exits)`;

interface Cluster {
  master: Address;
  authSecret: string;
  close(): Promise<void>;
}

/** The cluster secret: --auth-token, else BRAID_AUTH_TOKEN, else none (authentication off). */
function authSecret(args: Args): string {
  return args.string('auth-token') ?? process.env.BRAID_AUTH_TOKEN ?? '';
}

/** Set once SIGINT/SIGTERM is removing an embedded cluster; that handler ends the process. */
let interrupted = false;

/**
 * Reads --master and --workers and returns how to get the cluster; it starts
 * only when called, after args.done() has rejected unknown options (an
 * embedded cluster started first would be left behind by the error).
 */
function clusterFrom(args: Args): () => Promise<Cluster> {
  const master = args.string('master');
  const workers = args.int('workers', 2, 1, 16);
  const secret = authSecret(args);
  const address = master === undefined ? undefined : parseAddress(master);
  return async () => {
    if (address !== undefined) return { master: address, authSecret: secret, close: async () => {} };
    const embedded: StandaloneHandle = await startStandalone({ workers, master: { authToken: secret }, worker: { authToken: secret } });
    process.stderr.write(`embedded cluster: master ${embedded.masterAddress.host}:${embedded.masterAddress.port}, ${workers} workers, data in ${embedded.dataDir}\n`);
    // Ctrl-C must not leave the embedded cluster's data (up to twice the job's size) in the temporary directory.
    const onSignal = (signal: NodeJS.Signals): void => {
      interrupted = true;
      process.stderr.write(`braid: ${signal}, removing the embedded cluster\n`);
      void embedded.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    return {
      master: embedded.masterAddress,
      authSecret: secret,
      close: async () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await embedded.close();
      },
    };
  };
}

function progress(): (phase: Phase, done: number, total: number, bytes: number) => void {
  const bars = { map: new ProgressBar('map'), reduce: new ProgressBar('reduce') };
  return (phase, done, total, bytes) => bars[phase].update(done, total, bytes);
}

async function inputFiles(dir: string): Promise<{ path: string; records: number }[]> {
  const names = (await readdir(dir)).sort();
  const files: { path: string; records: number }[] = [];
  for (const n of names) {
    const path = join(dir, n);
    const s = await stat(path);
    if (!s.isFile() || s.size === 0) continue;
    if (s.size % RECORD_SIZE !== 0) throw new Error(`${path}: ${s.size} bytes is not a whole number of ${RECORD_SIZE}-byte records`);
    files.push({ path, records: s.size / RECORD_SIZE });
  }
  if (files.length === 0) throw new Error(`no record files in ${dir}`);
  return files;
}

async function terasort(args: Args): Promise<number> {
  const size = args.size('size', 1024 ** 3);
  const maps = args.int('maps', 8);
  const reduces = args.int('reduces', 8);
  const input = args.string('input');
  const output = args.string('output');
  const seed = args.int('seed', 1, 0, 2 ** 31);
  const replicate = args.bool('replicate', true);
  const processes = args.int('processes', 2, 1, 64);
  const compression = args.string('compression') ?? 'lz4';
  const startCluster = clusterFrom(args);
  args.done();
  // Checked here, not first in the task processes, where it would only show as a task process that failed to start.
  if (compression !== 'lz4' && compression !== 'zstd' && compression !== 'none') {
    throw new BraidError(ErrorCodes.CONFIG, `--compression: expected lz4, zstd or none, got "${compression}"`);
  }
  const files = input === undefined ? undefined : await inputFiles(input);
  const c = await startCluster();
  try {
    const totalRecords = files ? files.reduce((s, f) => s + f.records, 0) : Math.floor(size / RECORD_SIZE);
    const result = await runJob({
      job: 'terasort',
      params: { totalRecords, seed, ...(files ? { inputFiles: files } : {}), ...(output ? { outputDir: output } : {}) },
      numMaps: maps,
      numReduces: reduces,
      master: c.master,
      authSecret: c.authSecret,
      processes,
      replicate,
      client: { compression },
      onProgress: progress(),
    });
    return summary('terasort', result.summary, result.seconds);
  } finally {
    await c.close();
  }
}

async function wordcount(args: Args): Promise<number> {
  const size = args.size('size', 64 * 1024 ** 2);
  const maps = args.int('maps', 4);
  const reduces = args.int('reduces', 4);
  const processes = args.int('processes', 2, 1, 64);
  const replicate = args.bool('replicate', true);
  const startCluster = clusterFrom(args);
  args.done();
  const c = await startCluster();
  try {
    const result = await runJob({
      job: 'wordcount',
      replicate,
      params: { bytesPerMap: Math.ceil(size / maps), seed: 7 },
      numMaps: maps,
      numReduces: reduces,
      master: c.master,
      authSecret: c.authSecret,
      processes,
      onProgress: progress(),
    });
    return summary('wordcount', result.summary, result.seconds);
  } finally {
    await c.close();
  }
}

function summary(name: string, s: { bytes: number; records: number; validated: boolean; problems: string[] }, seconds: number): number {
  for (const p of s.problems) process.stderr.write(`problem: ${p}\n`);
  const rate = humanBytes(Math.round(s.bytes / seconds));
  process.stdout.write(`${name}: ${humanBytes(s.bytes)} (${s.records} records) in ${seconds.toFixed(1)} s, ${rate}/s, ${s.validated ? 'validated' : 'NOT validated'}\n`);
  return s.validated ? 0 : 1;
}

async function gensort(args: Args): Promise<number> {
  const records = args.int('records', 0, 1, Number.MAX_SAFE_INTEGER);
  const output = args.string('output');
  const seed = args.int('seed', 1, 0, 2 ** 31);
  const start = args.int('start', 0, 0, Number.MAX_SAFE_INTEGER);
  args.done();
  if (records === 0) throw new BraidError(ErrorCodes.CONFIG, 'gensort needs --records N');
  if (output === undefined) throw new Error('gensort needs --output file');
  // The output usually goes into a new input directory for `terasort --input` (as in the README).
  await mkdir(dirname(output), { recursive: true });
  await writeGensortFile(output, start, records, seed);
  process.stdout.write(`gensort: ${records} records (${humanBytes(records * RECORD_SIZE)}) written to ${output}\n`);
  return 0;
}

/** Calls an admin RPC that answers JSON on `address` and prints the answer. */
async function adminCall(address: string, token: string, method: typeof GetStatus | typeof DecommissionWorker): Promise<number> {
  const conn = await connect(parseAddress(address), { role: Role.Admin, token });
  try {
    const res = await conn.call(method, {});
    process.stdout.write(JSON.stringify(JSON.parse(res.json.toString('utf8')), null, 2) + '\n');
    return 0;
  } finally {
    conn.close();
  }
}

async function status(args: Args): Promise<number> {
  const master = args.string('master');
  const token = authSecret(args);
  args.done();
  if (master === undefined) throw new Error('status needs --master host:port');
  return adminCall(master, token, GetStatus);
}

/** `braid worker decommission|status --worker host:port`: the worker's own admin RPCs. */
async function worker(args: Args, sub: string | undefined): Promise<number> {
  const address = args.string('worker');
  const token = authSecret(args);
  args.done();
  const method = sub === 'decommission' ? DecommissionWorker : sub === 'status' ? GetStatus : undefined;
  if (method === undefined) throw new BraidError(ErrorCodes.CONFIG, `braid worker: expected decommission or status, got ${sub === undefined ? 'nothing' : `"${sub}"`}`);
  if (address === undefined) throw new BraidError(ErrorCodes.CONFIG, `braid worker ${sub}: needs --worker host:port`);
  return adminCall(address, token, method);
}

const COMMANDS: Record<string, (args: Args) => Promise<number>> = { terasort, wordcount, gensort, status };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'worker' && !rest.includes('--help')) {
    const [sub, ...flags] = rest;
    return worker(new Args(flags), sub);
  }
  const run = command === undefined ? undefined : COMMANDS[command];
  if (run === undefined || rest.includes('--help')) {
    process.stderr.write(USAGE + '\n');
    return command === undefined || run === undefined ? 2 : 0;
  }
  return run(new Args(rest));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (!interrupted) process.exit(code);
  },
  (err: unknown) => {
    // A job failing because a signal is tearing its cluster down is not news; the signal handler exits.
    if (interrupted) return;
    const e = asBraidError(err);
    process.stderr.write(`braid: ${e.code}: ${e.message}\n`);
    process.exit(1);
  },
);
