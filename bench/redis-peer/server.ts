/**
 * A throwaway redis-server for the terasort.vs_redis peer: loopback only, a
 * free port, its working directory a new temporary directory, persistence
 * off (`--save '' --appendonly no`, so nothing is written to disk), killed
 * and its directory removed by stop().
 *
 * redis-server comes from the system (Debian's package); scripts/install-redis.sh
 * installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly version: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** `redis-server --version`, or undefined when there is no redis-server on PATH. */
export function redisServerVersion(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return /v=(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.trim();
}

/** A port nobody listens on right now (the kernel's choice for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = addr !== null && typeof addr === 'object' ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startRedisServer(readyTimeoutMs = 10_000): Promise<RedisServer> {
  const version = redisServerVersion();
  if (version === undefined) throw new BraidError(ErrorCodes.CONFIG, 'redis-server is not on PATH: run `sh scripts/install-redis.sh`');
  const dir = mkdtempSync(join(tmpdir(), 'braid-bench-redis-'));
  const host = '127.0.0.1';
  const port = await freePort();
  const args = ['--port', String(port), '--bind', host, '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // With --loglevel warning redis prints nothing when it is ready: poll with a connection instead.
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new BraidError(ErrorCodes.INTERNAL, `redis-server exited with code ${child.exitCode}: ${log.trim()}`);
    }
    if (await answersPing(host, port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new BraidError(ErrorCodes.TIMEOUT, `redis-server did not answer on port ${port} within ${readyTimeoutMs} ms: ${log.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { host, port, version, child, stop };
}

/** One inline PING on a plain socket: true when the answer is +PONG. */
function answersPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}
