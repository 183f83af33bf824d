/**
 * The Redis client of the terasort.vs_redis peer: ioredis, pinned in
 * bench/redis-peer/package.json and installed there on first use, so the
 * product's own dependencies never include it.
 *
 * The module is loaded at run time from the source tree's
 * bench/redis-peer/node_modules (the compiled scripts live in dist-bench/,
 * where there is none), and typed here by the few commands the peer uses,
 * so that the suite compiles before the dependency is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';

/** The subset of ioredis's client used by the peer (commands resolve with the server's reply). */
export interface RedisClient {
  rpush(key: string, ...values: Buffer[]): Promise<number>;
  llen(key: string): Promise<number>;
  /** LRANGE with bulk strings returned as Buffers (inclusive bounds, as in Redis). */
  lrangeBuffer(key: string, start: number, stop: number): Promise<Buffer[]>;
  del(...keys: string[]): Promise<number>;
  flushall(): Promise<string>;
  ping(): Promise<string>;
  quit(): Promise<string>;
  disconnect(): void;
}

interface RedisOptions {
  host: string;
  port: number;
  /** Fail fast rather than queue commands while disconnected: a bench wants errors, not retries. */
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  lazyConnect?: boolean;
}

type RedisConstructor = new (options: RedisOptions) => RedisClient & { connect(): Promise<void> };

/** bench/redis-peer/ in the source tree (this file runs from dist-bench/bench/redis-peer/). */
export const PEER_DIR = fileURLToPath(new URL('../../../bench/redis-peer/', import.meta.url));

function installed(): boolean {
  return existsSync(`${PEER_DIR}node_modules/ioredis/package.json`);
}

/** Installs the peer's pinned dependencies (from its package-lock.json) unless they are there. */
export function ensureRedisClientInstalled(): void {
  if (installed()) return;
  process.stderr.write(`installing the Redis client into ${PEER_DIR}node_modules (first use)\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // npm's output goes to stderr: the runner's stdout is the results table.
  const r = spawnSync(npm, ['install', '--prefix', PEER_DIR, '--no-audit', '--no-fund'], { stdio: ['ignore', 2, 'inherit'] });
  if (r.status !== 0 || !installed()) {
    throw new BraidError(ErrorCodes.INTERNAL, `npm install --prefix ${PEER_DIR} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
  }
}

/** Connects one ioredis client to a Redis on `host:port`. */
export async function connectRedis(host: string, port: number): Promise<RedisClient> {
  const require = createRequire(`${PEER_DIR}package.json`);
  const Redis = require('ioredis') as RedisConstructor;
  const client = new Redis({ host, port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  await client.connect();
  return client;
}
