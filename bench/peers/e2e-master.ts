/**
 * Bench peer: a Braid master (startMaster) in its own process, for the
 * benchmarks that run a cluster of processes (e2e.shuffle, compression).
 *
 *   node dist-bench/bench/peers/e2e-master.js
 *
 * Prints READY <port>; answers CPU on stdin (user and system CPU µs).
 */
import { startMaster } from '../../src/server/master/index.js';
import { announceReady, exitOnSignal, serveCommands } from '../lib/peer.js';
import { benchSecret } from '../lib/security.js';

const master = await startMaster({ host: '127.0.0.1', port: 0, authSecret: benchSecret() });
exitOnSignal(() => master.close());
serveCommands();
announceReady(master.address.port);
