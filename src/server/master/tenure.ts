/**
 * What this master is in its cluster, and the state it serves while it
 * leads. A master alone leads from the start, with one MasterService for its
 * life. An elected master gets a fresh MasterService each time it is elected
 * (its grace period ended early by the roster the previous leader published)
 * and drops it when it steps down; while it leads it publishes the roster
 * of live workers for its successor.
 */
import type { EtcdElection } from '../../ha/etcd-election.js';
import { AloneLeadership, notLeading, type Leadership } from '../../ha/leadership.js';
import type { Logger } from '../../log/index.js';
import { addressKey, asBraidError, type Address } from '../../protocol/index.js';
import type { ResolvedMasterOptions } from './options.js';
import { MasterQuotas } from './quotas.js';
import { MasterService } from './service.js';
import { idleStatus, type ServiceStatus } from './status.js';

export class Tenure {
  private service: MasterService | undefined;
  /** The roster last written, to write it again only when it changes. */
  private lastRoster: string | undefined;

  private constructor(
    private readonly opts: ResolvedMasterOptions,
    private readonly published: Address,
    private readonly log: Logger,
    readonly leadership: Leadership,
    private readonly election: EtcdElection | undefined,
  ) {}

  /** A master alone, or a candidate in the etcd election (which starts campaigning at once). */
  static async start(opts: ResolvedMasterOptions, published: Address, log: Logger): Promise<Tenure> {
    const self = addressKey(published);
    if (opts.etcd.length === 0) {
      const alone = new Tenure(opts, published, log, new AloneLeadership(self), undefined);
      alone.service = new MasterService(opts, published, log);
      return alone;
    }
    // The etcd client (gRPC) takes about half a second to load: only masters that use it pay for it.
    const { EtcdElection } = await import('../../ha/etcd-election.js');
    const election = new EtcdElection({ endpoints: opts.etcd, prefix: `/braid/${opts.clusterName}/`, ttlSeconds: opts.leaseTtlMs / 1000, self, log });
    const tenure = new Tenure(opts, published, log, election, election);
    election.on('elected', () => tenure.elected(election));
    election.on('stepped-down', () => {
      // Slot requests held by the grace period are answered (refused) at once.
      tenure.service?.grace.end();
      tenure.service = undefined;
    });
    log.info({ etcd: opts.etcd, cluster: opts.clusterName, leaseTtlMs: opts.leaseTtlMs }, 'master is a candidate for leader');
    election.start();
    return tenure;
  }

  /** The leader's service, or the refusal naming the leader. Asked on every request: a lease can lapse between events. */
  leading(): MasterService {
    if (this.service === undefined || !this.leadership.isLeader()) throw notLeading(this.leadership.leader());
    return this.service;
  }

  /** For slot requests: waits out a new leader's grace period, then the service of whoever leads by then. */
  async afterGrace(): Promise<MasterService> {
    let s = this.leading();
    while (s.grace.active) {
      await s.grace.whenOver();
      s = this.leading();
    }
    return s;
  }

  /** The leader's state; a master that does not lead has none. */
  serviceStatus(): ServiceStatus {
    if (this.service !== undefined && this.leadership.isLeader()) return this.service.status();
    return idleStatus(this.published, this.opts.slotStrategy, new MasterQuotas(this.opts.quotas).status());
  }

  /** Periodic work of the leader: sweep, and publish the roster once the view is rebuilt. */
  tick(): void {
    const s = this.service;
    if (s === undefined || !this.leadership.isLeader()) return;
    s.sweep();
    if (this.election === undefined || s.grace.active) return;
    const roster = s.liveWorkers();
    const text = roster.join(',');
    if (text === this.lastRoster) return;
    this.lastRoster = text;
    this.election.publishRoster(roster).catch(() => (this.lastRoster = undefined));
  }

  close(): Promise<void> {
    return this.leadership.close();
  }

  private elected(election: EtcdElection): void {
    const s = new MasterService(this.opts, this.published, this.log, this.opts.leaderGraceMs);
    this.service = s;
    this.lastRoster = undefined;
    // The grace period ends early once every worker the previous leader knew is back.
    election.readRoster().then(
      (roster) => {
        if (roster !== undefined) s.grace.expect(roster);
      },
      (err: unknown) => this.log.warn({ err: asBraidError(err).message }, 'cannot read the worker roster; the grace period runs its full length'),
    );
  }
}
