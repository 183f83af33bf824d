/**
 * A cluster with elected masters, as real processes from the real entry
 * point: a real etcd (etcd.ts), N masters started with `--etcd`, and workers
 * given every master's address. Short lease and grace periods keep the tests
 * quick. Everything is stopped and removed after the test (see
 * ../e2e/cluster.ts).
 */
import { ServerProcess, tempDir, waitFor } from '../e2e/cluster.js';
import type { HaStatus } from '../../src/ha/leadership.js';
import { startEtcd, type EtcdServer } from './etcd.js';

export const LEASE_TTL = '2s';
export const LEASE_TTL_MS = 2000;
const GRACE = '1s';

export interface HaClusterOptions {
  masters?: number;
  workers?: number;
  masterArgs?: string[];
  workerArgs?: string[];
}

interface MasterStatusJson {
  ha: HaStatus;
  workers: { address: string; lost: boolean }[];
  applications: { appId: string; shuffles: number[] }[];
}

export class HaCluster {
  private constructor(
    readonly etcd: EtcdServer,
    readonly masters: ServerProcess[],
    readonly workers: ServerProcess[],
    private readonly masterArgs: string[],
  ) {}

  static async start(o: HaClusterOptions = {}): Promise<HaCluster> {
    const etcd = await startEtcd();
    const masterArgs = [
      '--port', '0', '--http-port', '0', '--etcd', etcd.endpoint, '--lease-ttl', LEASE_TTL, '--leader-grace', GRACE,
      '--heartbeat-interval', '200ms', '--worker-timeout', '2s', '--cluster-name', `test-${process.pid}`, ...(o.masterArgs ?? []),
    ];
    const masters = await Promise.all(Array.from({ length: o.masters ?? 3 }, () => ServerProcess.start('master', masterArgs)));
    const list = masters.map((m) => m.address).join(',');
    const workers = await Promise.all(
      Array.from({ length: o.workers ?? 3 }, async () => {
        const dir = await tempDir('braid-ha-worker-');
        const args = ['--port', '0', '--http-port', '0', '--heartbeat-interval', '200ms', '--disk-reserve', '0', '--memory-limit', '256m'];
        return ServerProcess.start('worker', [...args, '--master', list, '--data-dirs', dir, ...(o.workerArgs ?? [])], dir);
      }),
    );
    const cluster = new HaCluster(etcd, masters, workers, masterArgs);
    const leader = await cluster.waitForLeader();
    await waitFor(async () => (await cluster.status(leader)).workers.filter((w) => !w.lost).length === workers.length, 15_000, 'workers registered with the leader');
    return cluster;
  }

  /**
   * Starts a master that was stopped again, on the same port: workers and
   * clients know the masters by address. It comes back as a candidate.
   */
  async restartMaster(m: ServerProcess): Promise<ServerProcess> {
    const i = this.masters.indexOf(m);
    if (i < 0 || m.alive) throw new Error('restartMaster: not a stopped master of this cluster');
    const port = m.address.slice(m.address.lastIndexOf(':') + 1);
    const again = await ServerProcess.start('master', [...this.masterArgs, '--port', port]);
    this.masters[i] = again;
    return again;
  }

  /** Every master's address, comma separated, as `--master` takes it. */
  get masterList(): string {
    return this.masters.map((m) => m.address).join(',');
  }

  /** A master's own status over HTTP (a standby's too). */
  async status(m: ServerProcess): Promise<MasterStatusJson> {
    return JSON.parse(await m.get('/status')) as MasterStatusJson;
  }

  /** The live masters that say they lead (at most one, unless something is wrong). */
  async leaders(): Promise<ServerProcess[]> {
    const live = this.masters.filter((m) => m.alive);
    const roles = await Promise.all(live.map(async (m) => (await this.status(m).catch(() => undefined))?.ha.role));
    return live.filter((_, i) => roles[i] === 'leader');
  }

  /** Waits until exactly one live master leads, other than `not`; returns it. */
  async waitForLeader(not?: ServerProcess, timeoutMs = 20_000): Promise<ServerProcess> {
    let found: ServerProcess | undefined;
    await waitFor(
      async () => {
        const leaders = await this.leaders();
        found = leaders.length === 1 && leaders[0] !== not ? leaders[0] : undefined;
        return found !== undefined;
      },
      timeoutMs,
      'one leading master',
    );
    return found!;
  }
}
