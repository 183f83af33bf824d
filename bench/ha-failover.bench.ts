/**
 * ha.failover: how long a job's requests go unserved when the leading master
 * dies. Target (issue 12): at most the lease TTL plus one second.
 *
 * Cluster (processes): a real etcd (Debian's etcd-server, own ports and data
 * directory), three masters elected through it (peers/ha-master.js: lease
 * TTL, grace period and heartbeat interval below), two workers
 * (peers/worker-server.js) given all three masters. Security is on as in
 * production: every peer authenticates with the run's secret and speaks TLS
 * with a development CA made for the benchmark (bench/lib/security.ts); the
 * clients below are an application (its key, the CA) and an admin probe.
 *
 * Each round, one of each, alternating which goes first:
 * - crash: the leader is killed with SIGKILL; the clock runs from the kill;
 * - resign: the leader is stopped with SIGTERM, so it revokes its lease.
 * At once, two clients in this process, each a MasterClient given the three
 * masters (as a LifecycleManager is), send their request and wait for it to
 * be served: an ApplicationHeartbeat (the first request served by the new
 * leader: `ha.failover`) and a RequestSlots for two slots with replicas
 * (which a new leader holds until its grace period ends: `ha.failover.slots`).
 * The stopped master is started again on its port and the cluster settles
 * (one leader, two standbys) before the next measurement.
 *
 * value = median milliseconds; baseline = the target, TTL + 1 s (TTL + grace
 * + 1 s for slots); ratio = value / target, so at most 1 meets it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MasterClient } from '../src/ha/master-client.js';
import { ApplicationHeartbeat, GetStatus, MasterRole, RequestSlots, Role, addressKey, type Address } from '../src/protocol/index.js';
import { TlsMaterial } from '../src/security/tls.js';
import { EtcdServer } from '../test/ha/etcd-server.js';
import { peerScript, spawnPeer, type Peer } from './lib/peer.js';
import { benchAppKey, benchCerts, benchSecret, tlsPeerArgs } from './lib/security.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';

const GRACE_MS = 2000;
const HEARTBEAT_MS = 1000;

interface Sample {
  firstMs: number;
  slotsMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const loopback = (port: number): Address => ({ host: '127.0.0.1', port });

class Masters {
  readonly peers: Peer[] = [];

  constructor(private readonly args: string[]) {}

  async start(port = 0): Promise<Peer> {
    return spawnPeer(peerScript('ha-master'), [...this.args, '--port', String(port)], { readyTimeoutMs: 20_000 });
  }

  get addresses(): Address[] {
    return this.peers.map((p) => loopback(p.port));
  }

  /**
   * Waits until one master leads, every other one stands by naming it, and
   * the leader knows both workers after its grace period (so the roster it
   * publishes within a second names them); returns the leader's index.
   */
  async settled(probe: MasterClient): Promise<number> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const infos = await Promise.all(this.addresses.map((a) => probe.info(a, 2000).catch(() => undefined)));
      const leader = infos.findIndex((i) => i?.role === MasterRole.Leader);
      const address = leader < 0 ? '' : addressKey(this.addresses[leader]!);
      if (leader >= 0 && infos.every((i, k) => k === leader || (i?.role === MasterRole.Standby && i.leader === address))) {
        const status = await probe.callOne(this.addresses[leader]!, GetStatus, {}).catch(() => undefined);
        const s = status === undefined ? undefined : (JSON.parse(status.json.toString()) as { graceRemainingMs: number; workers: { lost: boolean }[] });
        if (s !== undefined && s.graceRemainingMs === 0 && s.workers.filter((w) => !w.lost).length === 2) {
          await sleep(1500);
          return leader;
        }
      }
      if (Date.now() > deadline) throw new Error(`the masters did not settle: ${JSON.stringify(infos)}`);
      await sleep(100);
    }
  }
}

const APP = 'bench-ha';

async function measure(masters: Masters, probe: MasterClient, app: TlsMaterial, how: 'crash' | 'resign', round: number): Promise<Sample> {
  const i = await masters.settled(probe);
  const victim = masters.peers[i]!;
  const clients = [0, 1].map(
    () =>
      new MasterClient({
        masters: masters.addresses,
        connect: { role: Role.LifecycleManager, appId: APP, key: benchAppKey(APP), tls: app },
        failoverTimeoutMs: 120_000,
      }),
  );
  try {
    // Both clients know the leader before it goes, as a running job's would.
    await Promise.all(clients.map((c) => c.call(ApplicationHeartbeat, { appId: APP, shuffleIds: [] })));
    const exited = new Promise<void>((resolve) => victim.child.once('exit', () => resolve()));
    const t0 = performance.now();
    victim.child.kill(how === 'crash' ? 'SIGKILL' : 'SIGTERM');
    // Nothing may reach the old leader once the clock runs.
    await exited;
    const [firstMs, slotsMs] = await Promise.all([
      clients[0]!.call(ApplicationHeartbeat, { appId: APP, shuffleIds: [] }).then(() => performance.now() - t0),
      clients[1]!.call(RequestSlots, { appId: APP, shuffleId: round, count: 2, replicate: true, excluded: [] }).then(() => performance.now() - t0),
    ]);
    for (const c of clients) if (c.leader.port === victim.port) throw new Error('a request was served by the stopped master');
    process.stderr.write(`  round ${round} ${how}: first request ${firstMs.toFixed(0)} ms, slots ${slotsMs.toFixed(0)} ms\n`);
    masters.peers[i] = await masters.start(victim.port);
    return { firstMs, slotsMs };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

export const haFailover: BenchModule = {
  name: 'ha.failover',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const ttlMs = opts.quick ? 2000 : 5000;
    const rounds = opts.quick ? 3 : 5;
    const dir = await mkdtemp(join(tmpdir(), 'braid-bench-etcd-'));
    const certs = benchCerts();
    const etcdExits: Promise<void>[] = [];
    const etcd = await EtcdServer.start(dir, (child) => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      etcdExits.push(exited);
      return exited;
    });
    const masters = new Masters([
      '--etcd', etcd.endpoint, '--lease-ttl-ms', String(ttlMs), '--grace-ms', String(GRACE_MS),
      '--heartbeat-ms', String(HEARTBEAT_MS), '--cluster', `bench-${process.pid}`, ...tlsPeerArgs(certs.files),
    ]);
    const workers: Peer[] = [];
    let probe: MasterClient | undefined;
    try {
      for (let k = 0; k < 3; k++) masters.peers.push(await masters.start());
      // Restarted masters come back on their ports: these addresses hold for the whole run.
      probe = new MasterClient({ masters: masters.addresses, connect: { role: Role.Admin, key: benchSecret(), tls: TlsMaterial.fromFiles(certs.files) }, failoverTimeoutMs: 0 });
      // An application's driver holds the CA only.
      const app = TlsMaterial.fromFiles({ caFile: certs.files.caFile });
      const list = masters.addresses.map(addressKey).join(',');
      for (let k = 0; k < 2; k++) workers.push(await spawnPeer(peerScript('worker-server'), ['--master', list, ...tlsPeerArgs(certs.files)]));
      const crash: Sample[] = [];
      const resign: Sample[] = [];
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? (['crash', 'resign'] as const) : (['resign', 'crash'] as const);
        for (const how of order) (how === 'crash' ? crash : resign).push(await measure(masters, probe, app, how, 2 * r + (how === 'crash' ? 0 : 1)));
      }
      const target = ttlMs + 1000;
      return [
        result('ha.failover', median(crash.map((s) => s.firstMs)), `ms (TTL ${ttlMs / 1000} s)`, target),
        result('ha.failover.slots', median(crash.map((s) => s.slotsMs)), `ms (grace ${GRACE_MS / 1000} s)`, target + GRACE_MS),
        result('ha.failover.resign', median(resign.map((s) => s.firstMs)), 'ms', target),
        result('ha.failover.resign.slots', median(resign.map((s) => s.slotsMs)), 'ms', target + GRACE_MS),
      ];
    } finally {
      await probe?.close();
      await Promise.all([...workers, ...masters.peers].map((p) => p.stop()));
      await etcd.stop();
      await Promise.all(etcdExits);
      await rm(dir, { recursive: true, force: true });
      certs.remove();
    }
  },
};
