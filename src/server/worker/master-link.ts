import { debuglog } from 'node:util';
import { RegisterWorker, Role, WorkerHeartbeat, asBraidError, type Address, type DiskInfo } from '../../protocol/index.js';
import type { TlsMaterial } from '../../security/tls.js';
import { ConnectionPool } from '../../transport/index.js';

const trace = debuglog('braid:worker');

export interface MasterLinkOptions {
  master: Address;
  self: Address;
  intervalMs: number;
  /** The cluster secret ('' when the cluster runs without authentication). */
  key: string;
  tls: TlsMaterial | undefined;
  disks(): DiskInfo[] | Promise<DiskInfo[]>;
  activeShuffleKeys(): string[];
  shuttingDown(): boolean;
  /** Shuffles the master says are gone (unregistered or their application expired). */
  onExpired(keys: string[]): Promise<void>;
  /** Applications with executors in the external shuffle service. */
  essAppIds(): string[];
  /** Applications among essAppIds() that the master has expired. */
  onAppsExpired(appIds: string[]): Promise<void>;
}

/**
 * Registers the worker with the master and heartbeats it. When the master
 * does not know the worker (it restarted, or declared the worker lost), the
 * worker registers again. Failures are retried at the next beat.
 */
export class MasterLink {
  private readonly pool: ConnectionPool;
  private timer: NodeJS.Timeout | undefined;
  private intervalMs: number;
  private registered = false;
  private beating: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: MasterLinkOptions) {
    this.intervalMs = options.intervalMs;
    this.pool = new ConnectionPool({ role: Role.Worker, key: options.key, tls: options.tls, connection: { requestTimeoutMs: 10_000 } });
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /** Registers once (waiting for it) and starts the heartbeat timer. */
  async start(): Promise<void> {
    await this.beat();
    this.schedule(this.intervalMs);
  }

  private schedule(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.beat(), ms);
    this.timer.unref();
  }

  /** The master may ask for more frequent heartbeats than configured (it decides when a worker is lost). */
  private adopt(res: { heartbeatIntervalMs: number }): void {
    const wanted = res.heartbeatIntervalMs;
    if (wanted > 0 && wanted < this.intervalMs) {
      this.intervalMs = wanted;
      if (this.timer) this.schedule(wanted);
    }
  }

  /** One registration or heartbeat; concurrent calls share one. */
  beat(): Promise<void> {
    this.beating ??= this.doBeat().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  /**
   * A beat that starts after this call, not one already in flight: it
   * carries state that changed just before (shutting down).
   */
  async beatAfterCurrent(): Promise<void> {
    await this.beating;
    await this.beat();
  }

  private async doBeat(): Promise<void> {
    if (this.stopped) return;
    const o = this.options;
    try {
      const conn = await this.pool.get(o.master);
      const disks = await o.disks();
      if (!this.registered) {
        this.adopt(await conn.call(RegisterWorker, { address: o.self, disks }));
        this.registered = true;
      }
      const res = await conn.call(WorkerHeartbeat, {
        address: o.self,
        disks,
        activeShuffleKeys: o.activeShuffleKeys(),
        shuttingDown: o.shuttingDown(),
        essAppIds: o.essAppIds(),
      });
      if (!res.registered) {
        this.registered = false;
        this.adopt(await conn.call(RegisterWorker, { address: o.self, disks }));
        this.registered = true;
      }
      if (res.expiredShuffleKeys.length > 0) await o.onExpired(res.expiredShuffleKeys);
      if (res.expiredAppIds.length > 0) await o.onAppsExpired(res.expiredAppIds);
    } catch (err) {
      trace('heartbeat to master failed: %s', asBraidError(err).message);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    this.stopped = true;
    await this.pool.close();
  }
}
