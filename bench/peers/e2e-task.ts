/**
 * Bench peer: an executor process for e2e.shuffle. It holds one
 * ShuffleClient per (application, LifecycleManager) and runs map and reduce
 * tasks the runner sends on stdin, one at a time, answering one line each.
 *
 *   node dist-bench/bench/peers/e2e-task.js
 *
 *   MAP <appId> <lmPort> <shuffleId> <mapId> <bytes> <batchBytes> <numMappers> <numPartitions>
 *       pushes <bytes> of data with pushData in batches of <batchBytes>, to
 *       the partitions in turn, one call at a time (as a TeraSort mapper
 *       does), then mapperEnd. Answers `OK <bytes>`.
 *   REDUCE <appId> <lmPort> <shuffleId> <partition,partition,...>
 *       reads the partitions (all at once) with readPartition and counts the
 *       bytes. Answers `OK <bytes>`.
 *   CPU answers `<user CPU µs> <system CPU µs>`.
 * A failure answers `ERR <message>`.
 *
 * The data is made once at start-up (so generating it is not timed): 64-byte
 * records of 24 pseudo-random bytes and 40 bytes copied from a 4 KiB table
 * of letters, about 2:1 for lz4, never constant. Batches are views of it.
 *
 * Prints READY 0 (it listens on nothing) once the data is ready.
 */
import { createInterface } from 'node:readline';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import { announceReady, exitOnSignal } from '../lib/peer.js';
import { benchAppKey } from '../lib/security.js';

const POOL_BYTES = 16 * 1024 * 1024;
const RECORD = 64;
const RANDOM_PART = 24;

/** Compressible data: see the file comment. mulberry32, seeded, so every run pushes the same bytes. */
function makePool(seed: number): Buffer {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const table = Buffer.allocUnsafe(4096);
  for (let i = 0; i < table.length; i++) table[i] = 0x61 + (next() % 26);
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  for (let at = 0; at < POOL_BYTES; at += RECORD) {
    for (let k = 0; k < RANDOM_PART; k += 4) pool.writeUInt32LE(next(), at + k);
    const from = (next() % ((table.length - (RECORD - RANDOM_PART)) / 8)) * 8;
    table.copy(pool, at + RANDOM_PART, from, from + RECORD - RANDOM_PART);
  }
  return pool;
}

const pool = makePool(1);
const clients = new Map<string, Promise<ShuffleClient>>();

function client(appId: string, lmPort: string): Promise<ShuffleClient> {
  const key = `${appId}@${lmPort}`;
  let c = clients.get(key);
  if (c === undefined) clients.set(key, (c = ShuffleClient.connect({ appId, lifecycleManager: `127.0.0.1:${lmPort}`, authToken: benchAppKey(appId) })));
  return c;
}

async function map(args: string[]): Promise<string> {
  const [appId, lmPort, shuffleId, mapId, bytes, batchBytes, numMappers, numPartitions] = args;
  const c = await client(appId!, lmPort!);
  const total = Number(bytes);
  const batch = Number(batchBytes);
  const m = Number(mapId);
  const R = Number(numPartitions);
  let offset = 0;
  for (let done = 0, i = 0; done < total; i++) {
    const n = Math.min(batch, total - done);
    if (offset + n > POOL_BYTES) offset = 0;
    await c.pushData(Number(shuffleId), m, 0, (m + i) % R, pool, offset, n, Number(numMappers), R);
    offset += n;
    done += n;
  }
  await c.mapperEnd(Number(shuffleId), m, 0, Number(numMappers));
  return `OK ${total}`;
}

async function reduce(args: string[]): Promise<string> {
  const [appId, lmPort, shuffleId, partitions] = args;
  const c = await client(appId!, lmPort!);
  let bytes = 0;
  await Promise.all(
    partitions!.split(',').map(async (p) => {
      for await (const b of c.readPartition(Number(shuffleId), Number(p))) bytes += b.length;
    }),
  );
  return `OK ${bytes}`;
}

async function handle(line: string): Promise<string> {
  const [cmd, ...args] = line.trim().split(' ');
  if (cmd === 'MAP') return map(args);
  if (cmd === 'REDUCE') return reduce(args);
  if (cmd === 'CPU') {
    const u = process.cpuUsage();
    return `${u.user} ${u.system}`;
  }
  return `ERR unknown command ${cmd}`;
}

// Commands run one after another and answer in order: the runner matches answers to questions by position.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let answer: string;
    try {
      answer = await handle(line);
    } catch (err) {
      answer = `ERR ${(err instanceof Error ? err.message : String(err)).replace(/\n/g, ' ')}`;
    }
    process.stdout.write(`${answer}\n`);
  });
});
lines.on('close', () => process.kill(process.pid, 'SIGTERM'));
exitOnSignal(async () => {
  for (const c of clients.values()) await (await c.catch(() => undefined))?.close();
});
announceReady(0);
