/**
 * Real server processes for the end-to-end tests: a master and workers
 * spawned from the build (`node dist/server.js master|worker`) on loopback
 * port 0, each worker with its own temporary data directory. Addresses come
 * from the `braid <role> ready {json}` line. Every server authenticates with
 * the test run's secret and speaks TLS (mutual TLS between cluster roles),
 * with the certificates of test/global-setup.ts. Everything started here (and
 * anything registered with `onCleanup`) is stopped and removed in afterEach,
 * and SIGKILLed on process exit as a last resort.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { httpsGet, serverSecurityArgs } from '../security/fixture.js';

const SERVER = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

// ---- cleanup ----

const cleanups: (() => Promise<void> | void)[] = [];
const liveChildren = new Set<ChildProcess>();

/** Runs `f` after the current test (last registered runs first). */
export function onCleanup(f: () => Promise<void> | void): void {
  cleanups.push(f);
}

/** One cleanup step may not hold up the others (which kill processes) for longer than this. */
const CLEANUP_STEP_MS = 10_000;

afterEach(async () => {
  const errors: unknown[] = [];
  for (const f of cleanups.splice(0).reverse()) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(f),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`a cleanup step took over ${CLEANUP_STEP_MS} ms`)), CLEANUP_STEP_MS))),
      ]);
    } catch (err) {
      errors.push(err);
    } finally {
      clearTimeout(timer);
    }
  }
  if (errors.length > 0) throw errors[0];
}, 60_000);

// A test run that dies or is stopped must not leave servers behind.
function killAll(): void {
  for (const c of liveChildren) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killAll();
    process.kill(process.pid, signal);
  });
}

/** Tracks a child so that it is SIGKILLed at exit if still running; resolves when it exits. */
export function trackChild(child: ChildProcess): Promise<void> {
  liveChildren.add(child);
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      liveChildren.delete(child);
      resolve();
      return;
    }
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve();
    });
  });
}

export async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  onCleanup(() => rm(d, { recursive: true, force: true }));
  return d;
}

// ---- one server process ----

export type ServerRole = 'master' | 'worker';

export class ServerProcess {
  private stderrTail = '';
  readonly exited: Promise<void>;

  private constructor(
    readonly role: ServerRole,
    readonly child: ChildProcess,
    /** The JSON of the ready line. */
    readonly ready: Record<string, unknown>,
    readonly dataDir: string | undefined,
    exited: Promise<void>,
    stderrSoFar: string,
  ) {
    this.exited = exited;
    this.stderrTail = stderrSoFar;
    child.stderr?.on('data', (d: Buffer) => this.keep(d.toString()));
  }

  private keep(s: string): void {
    this.stderrTail = (this.stderrTail + s).slice(-8192);
  }

  /** Spawns `node dist/server.js <role> ...args` and waits for its ready line. */
  static async start(role: ServerRole, args: string[], dataDir?: string): Promise<ServerProcess> {
    if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run \`npx tsc -p .\` first`);
    const child = spawn(process.execPath, [SERVER, role, ...serverSecurityArgs(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = trackChild(child);
    let stderr = '';
    let onEarlyExit = (_code: number | null, _signal: NodeJS.Signals | null): void => undefined;
    const onErr = (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8192));
    child.stderr!.on('data', onErr);
    try {
      const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`${role} not ready after ${READY_TIMEOUT_MS} ms; stderr: ${stderr}`)), READY_TIMEOUT_MS);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = new RegExp(`^braid ${role} ready (\\{.*\\})$`, 'm').exec(out);
          if (m !== null) {
            clearTimeout(timer);
            resolve(JSON.parse(m[1]!) as Record<string, unknown>);
          }
        });
        onEarlyExit = (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${role} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
        };
        child.once('exit', onEarlyExit);
      });
      child.stderr!.off('data', onErr);
      child.off('exit', onEarlyExit);
      // Keep reading stdout so that the pipe never fills.
      child.stdout!.resume();
      const server = new ServerProcess(role, child, ready, dataDir, exited, stderr);
      onCleanup(() => server.kill('SIGKILL'));
      return server;
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      throw err;
    }
  }

  /** `host:port` of the Braid protocol. */
  get address(): string {
    return String(this.ready[this.role]);
  }

  /** `host:port` of /metrics and /status, when started with --http-port. */
  get http(): string | undefined {
    return typeof this.ready.http === 'string' ? this.ready.http : undefined;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get stderr(): string {
    return this.stderrTail;
  }

  /** Sends `signal` and, for SIGKILL and SIGTERM, waits until the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    if (signal === 'SIGKILL') return this.exited;
    if (signal === 'SIGTERM') {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** GET https://<http>/<path> as text, as an admin (the node certificate). */
  async get(path: string): Promise<string> {
    if (this.http === undefined) throw new Error(`${this.role} was started without --http-port`);
    const res = await httpsGet(this.http, path);
    if (res.status !== 200) throw new Error(`GET ${path} on ${this.role}: ${res.status} ${res.body}`);
    return res.body;
  }

  /** Sum of a Prometheus counter over the series whose labels contain `labels` (e.g. 'kind="hard"'). */
  async counter(name: string, labels = ''): Promise<number> {
    const text = await this.get('/metrics');
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name) || line.startsWith('#')) continue;
      const [series, value] = line.split(/\s+/);
      if (series === undefined || value === undefined) continue;
      if (series !== name && !series.startsWith(`${name}{`)) continue;
      if (labels !== '' && !series.includes(labels)) continue;
      sum += Number(value);
    }
    return sum;
  }
}

// ---- a cluster ----

export interface ClusterOptions {
  workers?: number;
  /** Extra master flags (later flags win over the defaults below). */
  masterArgs?: string[];
  /** Extra flags for every worker. */
  workerArgs?: string[];
}

/** Failure detection in a couple of seconds instead of the production defaults. */
const MASTER_DEFAULT_ARGS = ['--port', '0', '--http-port', '0', '--heartbeat-interval', '200ms', '--worker-timeout', '2s'];
const WORKER_DEFAULT_ARGS = ['--port', '0', '--http-port', '0', '--heartbeat-interval', '200ms', '--disk-reserve', '0', '--memory-limit', '256m'];

export class Cluster {
  private constructor(
    readonly master: ServerProcess,
    readonly workers: ServerProcess[],
  ) {}

  static async start(o: ClusterOptions = {}): Promise<Cluster> {
    return (await Cluster.startWith(o, async () => undefined)).cluster;
  }

  /**
   * Starts the master, then the workers and `alongside(masterAddress)` at
   * the same time (process start-up is most of a test's set-up time).
   */
  static async startWith<T>(o: ClusterOptions, alongside: (masterAddress: string) => Promise<T>): Promise<{ cluster: Cluster; extra: T }> {
    const master = await ServerProcess.start('master', [...MASTER_DEFAULT_ARGS, ...(o.masterArgs ?? [])]);
    const [workers, extra] = await Promise.all([
      Promise.all(
        Array.from({ length: o.workers ?? 3 }, async () => {
          const dir = await tempDir('braid-e2e-worker-');
          return ServerProcess.start('worker', [...WORKER_DEFAULT_ARGS, '--master', master.address, '--data-dirs', dir, ...(o.workerArgs ?? [])], dir);
        }),
      ),
      alongside(master.address),
    ]);
    const cluster = new Cluster(master, workers);
    await cluster.waitForWorkers(workers.length);
    return { cluster, extra };
  }

  get masterAddress(): string {
    return this.master.address;
  }

  /** Starts one more worker with its own `--data-dirs` and flags (after the defaults, so they win) and waits until the master lists it. */
  async addWorker(dataDirs: string[], args: string[] = []): Promise<ServerProcess> {
    const w = await ServerProcess.start('worker', [...WORKER_DEFAULT_ARGS, '--master', this.master.address, '--data-dirs', dataDirs.join(','), ...args], dataDirs[0]);
    this.workers.push(w);
    await this.waitForWorkers(this.workers.filter((x) => x.alive).length);
    return w;
  }

  /**
   * Starts a worker again on the address and data directory of `old` (which
   * must have exited): a restart, as an operator's rolling restart does it.
   */
  async restartWorker(old: ServerProcess, extraArgs: string[] = []): Promise<ServerProcess> {
    if (old.alive) throw new Error(`worker ${old.address} is still running`);
    if (old.dataDir === undefined) throw new Error(`worker ${old.address} has no data directory of its own`);
    const port = old.address.slice(old.address.lastIndexOf(':') + 1);
    const w = await ServerProcess.start('worker', [...WORKER_DEFAULT_ARGS, '--master', this.master.address, '--data-dirs', old.dataDir, '--port', port, ...extraArgs], old.dataDir);
    this.workers[this.workers.indexOf(old)] = w;
    return w;
  }

  /** The worker listening on `address` ('host:port'). */
  worker(address: string): ServerProcess {
    const w = this.workers.find((x) => x.address === address);
    if (w === undefined) throw new Error(`no worker at ${address}`);
    return w;
  }

  async masterStatus(): Promise<{ workers: { address: string; lost: boolean }[] }> {
    return JSON.parse(await this.master.get('/status')) as { workers: { address: string; lost: boolean }[] };
  }

  /** Waits until the master lists `n` live workers. */
  async waitForWorkers(n: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => (await this.masterStatus()).workers.filter((w) => !w.lost).length === n, timeoutMs, `${n} live workers`);
  }

  /** Waits until the master has declared the worker at `address` lost. */
  async waitForLost(address: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => (await this.masterStatus()).workers.some((w) => w.address === address && w.lost), timeoutMs, `${address} lost`);
  }

  /** Relative paths of every file under the workers' data dirs that belongs to `appId`. */
  async filesOf(appId: string): Promise<string[]> {
    const found: string[] = [];
    for (const w of this.workers) {
      if (w.dataDir === undefined) continue;
      const root = join(w.dataDir, appId);
      if (!existsSync(root)) continue;
      for (const e of await readdir(root, { recursive: true, withFileTypes: true })) if (e.isFile()) found.push(join(e.parentPath, e.name));
    }
    return found;
  }
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
