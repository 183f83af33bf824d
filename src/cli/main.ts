#!/usr/bin/env node
/**
 * The `braid` command:
 *
 *   braid terasort  [--size 1g] [--maps 8] [--reduces 8] [--master host:port] [--input dir] [--output dir]
 *   braid wordcount [--size 64m] [--maps 4] [--reduces 4] [--master host:port]
 *   braid gensort   --records N --output file [--seed 1] [--start 0]
 *   braid status    --master host:port
 *
 * Without --master, jobs run on an embedded standalone cluster (a master and
 * --workers workers, replication on) whose data lives in a temporary directory.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { humanBytes } from './format.js';
import { GetStatus, Role, asBraidError, parseAddress, type Address } from '../protocol/index.js';
import { startStandalone, type StandaloneHandle } from '../server/standalone.js';
import { connect } from '../transport/index.js';
import { RECORD_SIZE, writeGensortFile } from '../jobs/data/index.js';
import { runJob, type Phase } from '../jobs/runner/driver.js';
import { Args } from './args.js';
import { ProgressBar } from './progress.js';

const USAGE = `usage:
  braid terasort  [--size 1g] [--maps 8] [--reduces 8] [--master host:port] [--input dir] [--output dir]
                  [--workers 2] [--replicate|--no-replicate] [--processes 2] [--compression lz4|zstd|none] [--seed 1]
  braid wordcount [--size 64m] [--maps 4] [--reduces 4] [--master host:port] [--workers 2] [--processes 2]
  braid gensort   --records N --output file [--seed 1] [--start 0]
  braid status    --master host:port`;

interface Cluster {
  master: Address;
  close(): Promise<void>;
}

async function cluster(args: Args): Promise<Cluster> {
  const master = args.string('master');
  const workers = args.int('workers', 2, 1, 16);
  if (master !== undefined) return { master: parseAddress(master), close: async () => {} };
  const embedded: StandaloneHandle = await startStandalone({ workers });
  process.stderr.write(`embedded cluster: master ${embedded.masterAddress.host}:${embedded.masterAddress.port}, ${workers} workers, data in ${embedded.dataDir}\n`);
  return { master: embedded.masterAddress, close: () => embedded.close() };
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
  const compression = (args.string('compression') ?? 'lz4') as 'lz4' | 'zstd' | 'none';
  const files = input === undefined ? undefined : await inputFiles(input);
  const c = await cluster(args);
  args.done();
  try {
    const totalRecords = files ? files.reduce((s, f) => s + f.records, 0) : Math.floor(size / RECORD_SIZE);
    const result = await runJob({
      job: 'terasort',
      params: { totalRecords, seed, ...(files ? { inputFiles: files } : {}), ...(output ? { outputDir: output } : {}) },
      numMaps: maps,
      numReduces: reduces,
      master: c.master,
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
  const c = await cluster(args);
  args.done();
  try {
    const result = await runJob({
      job: 'wordcount',
      params: { bytesPerMap: Math.ceil(size / maps), seed: 7 },
      numMaps: maps,
      numReduces: reduces,
      master: c.master,
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
  if (output === undefined) throw new Error('gensort needs --output file');
  await writeGensortFile(output, start, records, seed);
  process.stdout.write(`gensort: ${records} records (${humanBytes(records * RECORD_SIZE)}) written to ${output}\n`);
  return 0;
}

async function status(args: Args): Promise<number> {
  const master = args.string('master');
  args.done();
  if (master === undefined) throw new Error('status needs --master host:port');
  const conn = await connect(parseAddress(master), { role: Role.Admin });
  try {
    const res = await conn.call(GetStatus, {});
    process.stdout.write(JSON.stringify(JSON.parse(res.json.toString('utf8')), null, 2) + '\n');
    return 0;
  } finally {
    conn.close();
  }
}

const COMMANDS: Record<string, (args: Args) => Promise<number>> = { terasort, wordcount, gensort, status };

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const run = command === undefined ? undefined : COMMANDS[command];
  if (run === undefined || rest.includes('--help')) {
    process.stderr.write(USAGE + '\n');
    return command === undefined || run === undefined ? 2 : 0;
  }
  return run(new Args(rest));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = asBraidError(err);
    process.stderr.write(`braid: ${e.code}: ${e.message}\n`);
    process.exit(1);
  },
);
