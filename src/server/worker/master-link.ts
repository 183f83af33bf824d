import { MasterClient } from '../../ha/master-client.js';
import { Episode, type Logger } from '../../log/index.js';
import { RegisterWorker, Role, WorkerHeartbeat, addressKey, asBraidError, type Address, type DiskInfo } from '../../protocol/index.js';
import type { TlsMaterial } from '../../security/tls.js';
import { clientLiveness, type Liveness } from '../../transport/index.js';

/** While the master stays unreachable, the warning is repeated at most this often. */
const UNREACHABLE_WARN_EVERY_MS = 30_000;

/** Per shuffle the worker holds: its key and its files (reserved slots). */
export interface HeldShuffles {
  keys: string[];
  slots: number[];
}

export interface MasterLinkOptions {
  /** Every master of the cluster; the link follows whichever leads. */
  masters: readonly Address[];
  self: Address;
  intervalMs: number;
  /** The cluster secret ('' when the cluster runs without authentication). */
  key: string;
  tls: TlsMaterial | undefined;
  connection: Liveness;
  log: Logger;
  disks(): DiskInfo[] | Promise<DiskInfo[]>;
  activeShuffles(): HeldShuffles;
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
 * does not know the worker (it restarted, a new one leads, or it declared
 * the worker lost), the worker registers again. With several masters the
 * link follows the leader (MasterClient); one beat tries each master once,
 * so a stopping worker is not held up. Failures are retried at the next beat.
 */
export class MasterLink {
  private readonly master: MasterClient;
  private timer: NodeJS.Timeout | undefined;
  private intervalMs: number;
  private registered = false;
  private beating: Promise<void> | undefined;
  private stopped = false;
  /** The master not answering, logged once per episode. */
  private readonly unreachable: Episode;

  constructor(private readonly options: MasterLinkOptions) {
    this.intervalMs = options.intervalMs;
    this.unreachable = new Episode(options.log, UNREACHABLE_WARN_EVERY_MS);
    this.master = new MasterClient({
      masters: options.masters,
      connect: { role: Role.Worker, key: options.key, tls: options.tls, ...clientLiveness(options.connection, 10_000) },
      failoverTimeoutMs: 0,
      log: options.log,
    });
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
      const disks = await o.disks();
      if (!this.registered) await this.register(disks, 'registered with the master');
      const held = o.activeShuffles();
      const res = await this.master.call(WorkerHeartbeat, {
        address: o.self,
        disks,
        activeShuffleKeys: held.keys,
        shuttingDown: o.shuttingDown(),
        essAppIds: o.essAppIds(),
        shuffleSlots: held.slots,
      });
      this.reachable();
      if (!res.registered) {
        this.registered = false;
        await this.register(disks, 'the master did not know this worker (it restarted, a new leader leads, or it declared the worker lost): registered again');
      }
      if (res.expiredShuffleKeys.length > 0) {
        o.log.info({ shuffles: res.expiredShuffleKeys.slice(0, 20), count: res.expiredShuffleKeys.length }, 'deleting shuffles the master reports gone (unregistered or expired)');
        await o.onExpired(res.expiredShuffleKeys);
      }
      if (res.expiredAppIds.length > 0) await o.onAppsExpired(res.expiredAppIds);
    } catch (err) {
      this.unreachable.failed(
        { master: addressKey(this.master.leader), reason: asBraidError(err).message },
        'master unreachable: this worker gets no new slots until it answers (serving what it holds meanwhile)',
      );
    }
  }

  private async register(disks: DiskInfo[], what: string): Promise<void> {
    const o = this.options;
    this.adopt(await this.master.call(RegisterWorker, { address: o.self, disks }));
    this.registered = true;
    this.reachable();
    o.log.info({ master: addressKey(this.master.leader), disks: disks.length, heartbeatIntervalMs: this.intervalMs }, what);
  }

  private reachable(): void {
    this.unreachable.ended({ master: addressKey(this.master.leader) }, 'master reachable again');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.beating;
    this.stopped = true;
    await this.master.close();
  }
}
