import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';
import { BENCH_SECRET_ENV, benchSecret } from './security.js';

/**
 * Bench peers are compiled scripts in dist-bench/bench/peers/ run as child
 * processes, so that client and server each get their own core and event
 * loop. A peer prints `READY <port>` on stdout once it listens, and exits
 * cleanly on SIGTERM (so that --cpu-prof can write its profile).
 */
export interface Peer {
  readonly port: number;
  readonly child: ChildProcess;
  /** Sends one command line on the peer's stdin and resolves with its one-line answer. */
  query(command: string): Promise<string>;
  /** Asks the peer to exit (SIGTERM), and kills it if it has not after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const READY = /^READY (\d+)$/;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let profileSeq = 0;

/** Where profiles go: bench/profiles/ in the source tree, next to results.json. */
export const PROFILE_DIR = fileURLToPath(new URL('../../../bench/profiles/', import.meta.url));

/** Absolute path of a compiled peer script, e.g. peerScript('push-server'). */
export function peerScript(name: string): string {
  return fileURLToPath(new URL(`../peers/${name}.js`, import.meta.url));
}

export interface SpawnPeerOptions {
  /** Run the peer under the V8 sampling profiler; the profile lands in PROFILE_DIR. */
  profile?: boolean;
  /** Profile file name prefix (default: the script's name); the runner pid and a sequence number follow. */
  profileName?: string;
  /** Give up when no READY line arrives within this long. */
  readyTimeoutMs?: number;
  /** Extra flags for node, before the script. */
  execArgv?: string[];
}

export async function spawnPeer(script: string, args: string[], opts: SpawnPeerOptions = {}): Promise<Peer> {
  installExitHook();
  const execArgv = [...(opts.execArgv ?? [])];
  if (opts.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    const name = opts.profileName ?? basename(script, '.js');
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}.${process.pid}-${++profileSeq}.cpuprofile`);
  }
  // Every peer of a run shares its cluster secret (through the environment, not the command line).
  const env = { ...process.env, [BENCH_SECRET_ENV]: benchSecret() };
  const child = spawn(process.execPath, [...execArgv, script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  // Lines after READY are answers to query(), in order; a peer that dies fails the queries it left unanswered.
  const answers: { resolve(line: string): void; reject(err: BraidError): void }[] = [];
  child.once('exit', (code, signal) => {
    for (const a of answers.splice(0)) a.reject(new BraidError(ErrorCodes.CONNECTION_CLOSED, `${script} exited (code ${code}, signal ${signal})`));
  });
  const lines = createInterface({ input: child.stdout! });
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;
  const port = await new Promise<number>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => fail(new BraidError(ErrorCodes.TIMEOUT, `${script}: no READY line within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    const fail = (err: BraidError) => {
      clearTimeout(timer);
      if (ready) return;
      child.kill('SIGKILL');
      reject(err);
    };
    lines.on('line', (line) => {
      const m = READY.exec(line.trim());
      if (!ready && m) {
        ready = true;
        clearTimeout(timer);
        resolve(Number(m[1]));
      } else if (ready && answers.length > 0) {
        answers.shift()!.resolve(line);
      } else {
        process.stderr.write(`[peer ${child.pid}] ${line}\n`);
      }
    });
    child.once('exit', (code, signal) => fail(new BraidError(ErrorCodes.INTERNAL, `${script} exited before READY (code ${code}, signal ${signal})`)));
    child.once('error', (err) => fail(new BraidError(ErrorCodes.INTERNAL, `${script}: ${err.message}`, { cause: err })));
  });

  return {
    port,
    child,
    query(command) {
      return new Promise((resolve, reject) => {
        if (child.exitCode !== null) return reject(new BraidError(ErrorCodes.CONNECTION_CLOSED, `${script} has exited`));
        answers.push({ resolve, reject });
        child.stdin!.write(`${command}\n`);
      });
    },
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** No peer outlives the runner, whether it ends normally, throws, or is interrupted. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/** For peer scripts: announce the listening port to the parent. */
export function announceReady(port: number): void {
  process.stdout.write(`READY ${port}\n`);
}

/**
 * For peer scripts: answer each command line on stdin with one line on
 * stdout. `CPU` is built in: user and system CPU microseconds so far.
 */
export function serveCommands(handlers: Record<string, () => string> = {}): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'CPU') {
      const u = process.cpuUsage();
      process.stdout.write(`${u.user} ${u.system}\n`);
      return;
    }
    const h = handlers[cmd];
    process.stdout.write(h ? `${h()}\n` : `ERR unknown command ${cmd}\n`);
  });
  // The parent closing our stdin means it is gone: do not linger.
  lines.on('close', () => process.kill(process.pid, 'SIGTERM'));
}

/** For peer scripts: run `cleanup`, then exit 0 on SIGTERM/SIGINT (exit is what makes --cpu-prof write). */
export function exitOnSignal(cleanup: () => Promise<void> | void): void {
  const stop = () => {
    Promise.resolve()
      .then(cleanup)
      .catch((err: unknown) => process.stderr.write(`cleanup failed: ${String(err)}\n`))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
