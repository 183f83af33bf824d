/**
 * Product-level fixture: the real entry points (dist/server.js,
 * dist/cli/main.js, scripts/start.mjs) run as child processes, exactly as a
 * user starts them. Every process a test starts is killed and every temporary
 * directory removed by `cleanup()` (called from afterEach/afterAll), so a
 * failing test leaves nothing running or on disk.
 *
 * The children run the compiled build: `npm test` (or `npx tsc -p .`) builds
 * dist/ before vitest starts.
 *
 * Security is on, as in production: every server role started here gets the
 * test run's secret file and TLS certificates, and every CLI command aimed at
 * a `--master` gets the secret file and the certificates too (an admin's
 * view). A test that passes any security flag itself gets exactly its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpsGet, serverSecurityArgs } from '../security/fixture.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER = join(ROOT, 'dist', 'server.js');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const START = join(ROOT, 'scripts', 'start.mjs');
export const RECORD = 100;
export const KEY = 10;

if (!existsSync(SERVER) || !existsSync(CLI)) {
  throw new Error(`no build in ${join(ROOT, 'dist')}: run \`npx tsc -p .\` (npm test does) before these tests`);
}

/** The test runner's environment without BRAID_* variables, so only the flags a test passes configure a child. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRAID_') && !k.startsWith('NODE_DEBUG')) env[k] = v;
  return { ...env, ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output collected as it arrives. */
export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(readonly child: ChildProcess, readonly label: string) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise<Exit>((resolve) => {
      child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves once stdout or stderr matches; fails if the process exits first or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this[stream].match(pattern);
      if (m) return m;
      if (!this.running) throw new Error(`${this.label} exited (${JSON.stringify(this.exit)}) before ${pattern}:\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms:\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends `signal` and waits for the exit; fails (after a SIGKILL) if it takes longer than `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit & { ms: number }> {
    const started = Date.now();
    if (this.running) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
    const result = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (result === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
      throw new Error(`${this.label} did not exit within ${timeoutMs} ms of ${signal}:\n${this.output()}`);
    }
    return { ...result, ms: Date.now() - started };
  }

  output(): string {
    return `--- stdout\n${this.stdout.slice(-4000)}\n--- stderr\n${this.stderr.slice(-4000)}`;
  }
}

const procs = new Set<Proc>();
const dirs = new Set<string>();

/** Who a child runs as, when not as this process's user. */
export interface RunAs {
  uid: number;
  gid: number;
}

const SECURITY_FLAGS = ['--auth-secret-file', '--insecure', '--plaintext', '--tls-ca-file', '--tls-cert-file', '--tls-key-file'];

/**
 * `args` with the test run's secret and TLS flags, for a server role or a
 * CLI command that talks to a --master. A child running as another user
 * gets copies of the files it owns (the originals are readable by their
 * owner only, as they should be).
 */
export function withSecurity(args: readonly string[], as?: RunAs): string[] {
  if (args.some((a) => SECURITY_FLAGS.includes(a.split('=')[0]!))) return [...args];
  const serverRole = args[0] === SERVER && ['master', 'worker', 'standalone'].includes(args[1] ?? '') && !args.includes('--help');
  const cliToCluster = args[0] === CLI && args.includes('--master');
  if (!serverRole && !cliToCluster) return [...args];
  return [...args, ...(as === undefined ? serverSecurityArgs() : securityArgsOwnedBy(as))];
}

function securityArgsOwnedBy(as: RunAs): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'braid-product-security-'));
  dirs.add(dir);
  chownSync(dir, as.uid, as.gid);
  const own = (path: string) => {
    const copy = join(dir, basename(path));
    copyFileSync(path, copy);
    chownSync(copy, as.uid, as.gid);
    return copy;
  };
  const original = serverSecurityArgs();
  // Every other argument is a file path: [flag, path, flag, path, ...].
  return original.map((arg, i) => (i % 2 === 1 ? own(arg) : arg));
}

/** Starts `node <args>` in the repository root (with the security flags of withSecurity). */
export function start(args: string[], label = args.slice(0, 2).join(' '), env: Record<string, string> = {}, as?: RunAs): Proc {
  const child = spawn(process.execPath, withSecurity(args, as), { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'], ...as });
  const p = new Proc(child, label);
  procs.add(p);
  void p.exited.then(() => procs.delete(p));
  return p;
}

/** Runs `node <args>` to the end; SIGKILLs it and fails after `timeoutMs`. */
export async function run(args: string[], timeoutMs = 60_000, env: Record<string, string> = {}, as?: RunAs): Promise<Exit & { stdout: string; stderr: string }> {
  const p = start(args, args.slice(0, 2).join(' '), env, as);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
  const result = await Promise.race([p.exited, late]);
  clearTimeout(timer);
  if (result === 'late') {
    p.child.kill('SIGKILL');
    await p.exited;
    throw new Error(`node ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${p.output()}`);
  }
  return { ...result, stdout: p.stdout, stderr: p.stderr };
}

export type Ready = Record<string, unknown>;

/** Starts a server role and waits for its `braid <role> ready {json}` line. */
export async function server(
  role: 'master' | 'worker' | 'standalone',
  flags: string[],
  timeoutMs = 30_000,
  env: Record<string, string> = {},
): Promise<{ proc: Proc; ready: Ready }> {
  const proc = start([SERVER, role, ...flags], `braid ${role}`, env);
  const m = await proc.waitFor(new RegExp(`^braid ${role} ready (\\{.*\\})$`, 'm'), timeoutMs);
  return { proc, ready: JSON.parse(m[1]!) as Ready };
}

export async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `braid-product-${prefix}-`));
  dirs.add(d);
  return d;
}

/** Removes a directory the test did not make itself (e.g. one a server made) at cleanup. */
export function removeLater(dir: string): void {
  dirs.add(dir);
}

/** Kills every process still running (SIGKILL: a test that wanted a clean stop has already asserted it) and removes the directories. */
export async function cleanup(): Promise<void> {
  const alive = [...procs];
  procs.clear();
  for (const p of alive) if (p.running) p.child.kill('SIGKILL');
  await Promise.all(alive.map((p) => p.exited));
  const gone = [...dirs];
  dirs.clear();
  await Promise.all(gone.map((d) => rm(d, { recursive: true, force: true })));
}

/** GET on a role's HTTPS port, as an admin (the node certificate of the test CA). */
export function get(http: unknown, path: string): Promise<{ status: number; type: string; body: string }> {
  return httpsGet(String(http), path);
}

/** The values of every sample `name{labels} value` of a Prometheus text whose labels include `labels`. */
export function samples(text: string, name: string, labels: Record<string, string> = {}): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) out.push(Number(m[3]));
  }
  return out;
}

export const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
