#!/usr/bin/env node
/**
 * The `braid` command:
 *
 *   braid terasort  [--size 1g] [--maps 8] [--reduces 8] [--master host:port] [--input dir] [--output dir]
 *   braid wordcount [--size 64m] [--maps 4] [--reduces 4] [--master host:port]
 *   braid gensort   --records N --output file [--seed 1] [--start 0]
 *   braid status    --master host:port[,host:port...]
 *   braid worker    decommission|status --worker host:port
 *
 * --master takes every master of a cluster whose masters are elected
 * through etcd; commands follow the leader.
 *
 * Without --master, jobs run on an embedded standalone cluster (a master and
 * --workers workers, replication on) whose data lives in a temporary directory;
 * it gets a random secret that only this command and its task processes know.
 * With --master, the cluster's secret comes from --auth-secret-file or
 * BRAID_AUTH_SECRET (--insecure for a cluster without authentication), and
 * TLS from --tls-ca-file (plus --tls-cert-file/--tls-key-file: the job's
 * LifecycleManager listens with them, `status` presents them as an admin).
 *
 * Exit status: 0 done (and validated), 1 the job failed or did not validate,
 * 2 usage or configuration error (BRAID_ERR_CONFIG), 3 unusable input or
 * output (BRAID_ERR_INPUT), 130/143 stopped by SIGINT/SIGTERM.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { humanBytes } from './format.js';
import { parseMasters } from '../ha/master-addresses.js';
import { MasterClient } from '../ha/master-client.js';
import { BraidError, DecommissionWorker, ErrorCodes, GetStatus, Role, addressKey, asBraidError, masterRoleName, parseAddress, type Address } from '../protocol/index.js';
import { randomSecret, readSecretFile } from '../security/secret-file.js';
import { TlsMaterial, type TlsFiles } from '../security/tls.js';
import { startStandalone, type StandaloneHandle } from '../server/standalone.js';
import { connect, type ConnectOptions } from '../transport/index.js';
import { RECORD_SIZE, writeGensortFile } from '../jobs/data/index.js';
import { runJob, type Phase, type TaskFailure } from '../jobs/runner/driver.js';
import { Args } from './args.js';
import { prepareOutputDir } from './output-dir.js';
import { ProgressBar } from './progress.js';

const USAGE = `usage:
  braid terasort  [--size 1g] [--maps 8] [--reduces 8] [--master host:port] [--input dir] [--output dir [--overwrite]]
                  [--workers 2] [--replicate|--no-replicate] [--processes 2] [--compression lz4|zstd|none] [--seed 1]
  braid wordcount [--size 64m] [--maps 4] [--reduces 4] [--master host:port] [--workers 2] [--replicate|--no-replicate] [--processes 2]
  braid gensort   --records N --output file [--seed 1] [--start 0]
  braid status    --master host:port[,host:port...]
  braid worker    decommission|status --worker host:port   (decommission: no new work, reads served until its shuffles are gone, then it exits)
--master lists every master when they are elected through etcd (high availability).
security, with --master or --worker: [--auth-secret-file F | BRAID_AUTH_SECRET=... | --insecure] [--tls-ca-file F [--tls-cert-file F --tls-key-file F]]
exit status: 0 done, 1 job failed or not validated, 2 usage or configuration error, 3 unusable input or output`;

/** Exit statuses by error code; anything else is 1. */
const EXIT_STATUS: Partial<Record<string, number>> = { [ErrorCodes.CONFIG]: 2, [ErrorCodes.INPUT]: 3 };

/** An address option (--worker); a malformed one is a configuration error naming the option. */
function addressOption(value: string, option: string): Address {
  try {
    return parseAddress(value);
  } catch (err) {
    throw new BraidError(ErrorCodes.CONFIG, `${option}: ${(err as Error).message}`, { cause: err });
  }
}

interface Cluster {
  master: Address[];
  /** '' for a cluster without authentication. */
  authSecret: string;
  tls: TlsFiles | undefined;
  close(): Promise<void>;
}

interface Security {
  secret: string;
  tls: TlsFiles | undefined;
}

/**
 * The secret and TLS files for talking to an existing cluster: the secret
 * from --auth-secret-file or BRAID_AUTH_SECRET (never a flag with the secret
 * itself); none only with an explicit --insecure.
 */
function securityFrom(args: Args): () => Security {
  const file = args.string('auth-secret-file');
  const insecure = args.bool('insecure', false);
  const ca = args.string('tls-ca-file');
  const cert = args.string('tls-cert-file');
  const key = args.string('tls-key-file');
  return () => {
    const fromEnv = process.env.BRAID_AUTH_SECRET ?? '';
    const secret = file !== undefined ? readSecretFile(file, '--auth-secret-file') : fromEnv;
    if (secret === '' && !insecure) {
      throw new BraidError(ErrorCodes.CONFIG, 'no cluster secret: give it with --auth-secret-file <file> or BRAID_AUTH_SECRET, or pass --insecure for a cluster started with --insecure');
    }
    if (secret !== '' && insecure) throw new BraidError(ErrorCodes.CONFIG, '--insecure contradicts the cluster secret given; use one of them');
    if (ca === undefined && (cert !== undefined || key !== undefined)) throw new BraidError(ErrorCodes.CONFIG, '--tls-cert-file and --tls-key-file need --tls-ca-file');
    const tls = ca === undefined ? undefined : { caFile: ca, ...(cert === undefined ? {} : { certFile: cert }), ...(key === undefined ? {} : { keyFile: key }) };
    if (tls !== undefined) TlsMaterial.fromFiles(tls); // fail here, naming the file, rather than in a task process
    return { secret, tls };
  };
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
  const security = securityFrom(args);
  const masters = master === undefined ? undefined : mastersArg(master);
  return async () => {
    if (masters !== undefined) {
      const { secret, tls } = security();
      return { master: masters, authSecret: secret, tls, close: async () => {} };
    }
    // The embedded cluster lives on loopback for this command only: a random secret, known to it and its task processes.
    const secret = randomSecret();
    const embedded: StandaloneHandle = await startStandalone({ workers, authSecret: secret });
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
      master: [embedded.masterAddress],
      authSecret: secret,
      tls: undefined,
      close: async () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await embedded.close();
      },
    };
  };
}

/** --master: one address or a comma separated list. */
function mastersArg(value: string): Address[] {
  try {
    return parseMasters(value);
  } catch (err) {
    throw new BraidError(ErrorCodes.CONFIG, `--master: expected host:port or a comma separated list of them, got "${value}" (${(err as Error).message})`);
  }
}

function progress(): (phase: Phase, done: number, total: number, bytes: number) => void {
  const bars = { map: new ProgressBar('map'), reduce: new ProgressBar('reduce') };
  return (phase, done, total, bytes) => bars[phase].update(done, total, bytes);
}

function inputError(message: string, cause?: unknown): BraidError {
  return new BraidError(ErrorCodes.INPUT, message, { cause });
}

async function inputFiles(dir: string): Promise<{ path: string; records: number }[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : (err as Error).message;
    throw inputError(`--input ${dir}: ${why}`, err);
  }
  const files: { path: string; records: number }[] = [];
  for (const n of names) {
    const path = join(dir, n);
    const s = await stat(path).catch((err: unknown) => {
      throw inputError(`--input ${dir}: cannot read ${path}: ${(err as Error).message}`, err);
    });
    if (!s.isFile() || s.size === 0) continue;
    if (s.size % RECORD_SIZE !== 0) throw inputError(`--input ${dir}: ${path} has ${s.size} bytes, not a whole number of ${RECORD_SIZE}-byte records`);
    files.push({ path, records: s.size / RECORD_SIZE });
  }
  if (files.length === 0) throw inputError(`--input ${dir}: no record files (non-empty regular files of ${RECORD_SIZE}-byte records) in it`);
  return files;
}

async function terasort(args: Args): Promise<number> {
  const size = args.size('size', 1024 ** 3);
  const maps = args.int('maps', 8);
  const reduces = args.int('reduces', 8);
  const input = args.string('input');
  const output = args.string('output');
  const overwrite = args.bool('overwrite', false);
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
  if (overwrite && output === undefined) throw new BraidError(ErrorCodes.CONFIG, '--overwrite needs --output dir');
  const files = input === undefined ? undefined : await inputFiles(input);
  if (output !== undefined) await prepareOutputDir(output, overwrite);
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
      tls: c.tls,
      processes,
      replicate,
      client: { compression },
      onProgress: progress(),
    });
    return summary('terasort', result.summary, result.seconds, result.taskFailures);
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
      tls: c.tls,
      processes,
      onProgress: progress(),
    });
    return summary('wordcount', result.summary, result.seconds, result.taskFailures);
  } finally {
    await c.close();
  }
}

function summary(name: string, s: { bytes: number; records: number; validated: boolean; problems: string[] }, seconds: number, failures: TaskFailure[]): number {
  for (const p of s.problems) process.stderr.write(`problem: ${p}\n`);
  // The job succeeded, but an operator wants to know what was tried again.
  for (const f of failures) process.stderr.write(`task failed and was retried: ${f.phase} ${f.index} attempt ${f.attemptId}: ${f.code}: ${f.message}\n`);
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
  if (output === undefined) throw new BraidError(ErrorCodes.CONFIG, 'gensort needs --output file');
  try {
    // The output usually goes into a new input directory for `terasort --input` (as in the README).
    await mkdir(dirname(output), { recursive: true });
    await writeGensortFile(output, start, records, seed);
  } catch (err) {
    throw inputError(`--output ${output}: cannot be written: ${(err as Error).message}`, err);
  }
  process.stdout.write(`gensort: ${records} records (${humanBytes(records * RECORD_SIZE)}) written to ${output}\n`);
  return 0;
}

/**
 * The leader's status JSON. With several masters it also holds what each
 * one says it is (`masters`), so an operator sees who leads and who stands
 * by; when none leads, that part alone is printed and the command fails
 * with BRAID_ERR_MASTER_UNAVAILABLE (after looking for a leader for 10 s).
 */
async function status(args: Args): Promise<number> {
  const master = args.string('master');
  const security = securityFrom(args);
  args.done();
  if (master === undefined) throw new BraidError(ErrorCodes.CONFIG, 'status needs --master host:port[,host:port...]');
  const masters = mastersArg(master);
  const client = new MasterClient({ masters, connect: adminIdentity(security()), failoverTimeoutMs: 10_000 });
  try {
    const roles = await Promise.all(
      masters.map(async (address) => {
        try {
          const info = await client.info(address, 5000);
          return { address: addressKey(address), role: masterRoleName(info.role), leader: info.leader || null, term: info.term };
        } catch (err) {
          return { address: addressKey(address), error: asBraidError(err).code };
        }
      }),
    );
    let status: Record<string, unknown> = {};
    let failure: unknown;
    try {
      status = JSON.parse((await client.call(GetStatus, {})).json.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      failure = err;
    }
    if (masters.length > 1) status = { ...status, masters: roles };
    if (failure === undefined || masters.length > 1) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    if (failure !== undefined) throw failure;
    return 0;
  } finally {
    await client.close();
  }
}

/** How an operator's command connects: as the admin role, with the cluster secret and TLS files given. */
function adminIdentity({ secret, tls }: Security): ConnectOptions {
  return { role: Role.Admin, key: secret, tls: tls === undefined ? undefined : TlsMaterial.fromFiles(tls) };
}

/** Calls an admin RPC that answers JSON on the server at `address` and prints the answer. */
async function adminCall(address: string, option: string, security: () => Security, method: typeof GetStatus | typeof DecommissionWorker): Promise<number> {
  const conn = await connect(addressOption(address, option), adminIdentity(security()));
  try {
    const res = await conn.call(method, {});
    process.stdout.write(JSON.stringify(JSON.parse(res.json.toString('utf8')), null, 2) + '\n');
    return 0;
  } finally {
    conn.close();
  }
}

/** `braid worker decommission|status --worker host:port`: the worker's own admin RPCs. */
async function worker(args: Args, sub: string | undefined): Promise<number> {
  const address = args.string('worker');
  const security = securityFrom(args);
  args.done();
  const method = sub === 'decommission' ? DecommissionWorker : sub === 'status' ? GetStatus : undefined;
  if (method === undefined) throw new BraidError(ErrorCodes.CONFIG, `braid worker: expected decommission or status, got ${sub === undefined ? 'nothing' : `"${sub}"`}`);
  if (address === undefined) throw new BraidError(ErrorCodes.CONFIG, `braid worker ${sub}: needs --worker host:port`);
  return adminCall(address, '--worker', security, method);
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
    process.exit(EXIT_STATUS[e.code] ?? 1);
  },
);
