/**
 * Bench peer: one real Braid worker (startWorker) in its own process.
 *
 *   node dist-bench/bench/peers/worker-server.js [--master host:port[,host:port...]]
 *        [--memory-limit bytes] [--chunk-size bytes] [--chunk-cache-size bytes]
 *        [--tls-ca ca.pem --tls-cert node.pem --tls-key node-key.pem]
 *
 * The data directory is a new temporary directory, removed on exit. Defaults
 * differ from a production worker where a benchmark needs it: memoryLimit
 * 2 GiB (a run's pushes never hit backpressure), diskReserve 0 (a shared
 * machine's free space must not turn pushes into HARD_SPLITs).
 *
 * Prints READY <port>. Answers on stdin:
 *   STAT  `<pushed bytes held now> <user CPU µs> <system CPU µs>`
 *   DIR   the data directory (the fetch baseline reads the worker's own files)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startWorker } from '../../src/server/worker/index.js';
import { announceReady, exitOnSignal, serveCommands } from '../lib/peer.js';
import { TLS_PEER_OPTIONS, benchSecret, peerTls } from '../lib/security.js';

const GiB = 1024 * 1024 * 1024;

const { values } = parseArgs({
  options: {
    master: { type: 'string' },
    'memory-limit': { type: 'string' },
    'chunk-size': { type: 'string' },
    'chunk-cache-size': { type: 'string' },
    ...TLS_PEER_OPTIONS,
  },
});
const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

const dataDir = await mkdtemp(join(tmpdir(), 'braid-bench-worker-'));
const worker = await startWorker({
  authSecret: benchSecret(),
  tls: peerTls(values),
  dataDirs: [dataDir],
  master: values.master,
  memoryLimit: num(values['memory-limit']) ?? 2 * GiB,
  diskReserve: 0,
  // The bench removes the data at exit: a stop has no commits to wait for.
  drainTimeoutMs: 0,
  chunkSize: num(values['chunk-size']),
  chunkCacheSize: num(values['chunk-cache-size']),
}).catch(async (err: unknown) => {
  await rm(dataDir, { recursive: true, force: true });
  throw err;
});

exitOnSignal(async () => {
  await worker.close();
  await rm(dataDir, { recursive: true, force: true });
});
serveCommands({
  STAT: () => {
    const cpu = process.cpuUsage();
    return `${worker.memory().held} ${cpu.user} ${cpu.system}`;
  },
  DIR: () => dataDir,
});
announceReady(worker.address.port);
