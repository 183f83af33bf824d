/**
 * Bench peer: a Braid master that is a candidate in an etcd election
 * (startMaster with `etcd`), in its own process, for ha.failover.
 *
 *   node dist-bench/bench/peers/ha-master.js --etcd host:port --port N
 *        --lease-ttl-ms 2000 --grace-ms 2000 --heartbeat-ms 1000 --cluster name
 *        [--tls-ca ca.pem --tls-cert node.pem --tls-key node-key.pem]
 *
 * It authenticates with the run's secret (bench/lib/security.ts).
 *
 * Prints READY <port>. SIGTERM resigns and exits; SIGKILL is the crash the
 * benchmark measures.
 */
import { parseArgs } from 'node:util';
import { startMaster } from '../../src/server/master/index.js';
import { announceReady, exitOnSignal, serveCommands } from '../lib/peer.js';
import { TLS_PEER_OPTIONS, benchSecret, peerTls } from '../lib/security.js';

const { values } = parseArgs({
  options: {
    etcd: { type: 'string' },
    port: { type: 'string', default: '0' },
    'lease-ttl-ms': { type: 'string' },
    'grace-ms': { type: 'string' },
    'heartbeat-ms': { type: 'string' },
    cluster: { type: 'string' },
    ...TLS_PEER_OPTIONS,
  },
});

const master = await startMaster({
  host: '127.0.0.1',
  port: Number(values.port),
  etcd: [values.etcd ?? ''],
  leaseTtlMs: Number(values['lease-ttl-ms']),
  leaderGraceMs: Number(values['grace-ms']),
  heartbeatIntervalMs: Number(values['heartbeat-ms']),
  clusterName: values.cluster,
  authSecret: benchSecret(),
  tls: peerTls(values),
});
exitOnSignal(() => master.close());
serveCommands();
announceReady(master.address.port);
