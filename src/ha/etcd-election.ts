/**
 * Master election on etcd: campaign → elected → resign, over a lease.
 *
 * Every candidate holds a lease and puts one key, `<prefix>election/<leaseId>`,
 * attached to it. The key with the lowest create revision leads; its create
 * revision is the leader's term. A candidate waits until every key created
 * before its own is gone (deleted by a resigning leader, or by etcd when the
 * lease expired), then leads for as long as its lease surely lives
 * (lease-keeper.ts). When the lease may have expired it steps down, resigns
 * (revokes the lease, so its key goes at once where etcd can be reached) and
 * campaigns again. This is etcd's own election recipe (its Go client's
 * `concurrency.Election`); the consensus is etcd's.
 *
 * Alongside, every candidate watches the election keys to know the current
 * leader's address, which standbys name when they refuse a request.
 */
import { EventEmitter } from 'node:events';
import { Etcd3, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import type { Logger } from '../log/index.js';
import { MasterRole, masterRoleName } from '../protocol/index.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { HaStatus, LeaderInfo, Leadership, LeadershipEvents } from './leadership.js';

export interface ElectionOptions {
  /** etcd client endpoints, `host:port` or a URL. */
  endpoints: readonly string[];
  /** Every key of this cluster lives under it, e.g. `/braid/prod/`. */
  prefix: string;
  /** Lease TTL in whole seconds. */
  ttlSeconds: number;
  /** The address this master publishes while it leads (`host:port`). */
  self: string;
  log: Logger;
}

/** The value a leader puts on its key: JSON, so that more can be published later. */
interface Published {
  address: string;
}

function endpointUrl(e: string): string {
  return /^https?:\/\//.test(e) ? e : `http://${e}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function addressOf(kv: IKeyValue): string {
  const text = kv.value.toString('utf8');
  try {
    const v = JSON.parse(text) as Partial<Published>;
    return typeof v.address === 'string' ? v.address : text;
  } catch {
    return text;
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class EtcdElection extends EventEmitter<LeadershipEvents> implements Leadership {
  private readonly client: Etcd3;
  /** The cluster's keys: `election/...` and `workers`. */
  private readonly root: Namespace;
  private readonly keys: Namespace;
  private readonly value: string;
  private readonly retryMs: number;
  private keeper: LeaseKeeper | undefined;
  /** This master's election key and its create revision, while it leads. */
  private leadKey: { key: string; revision: string } | undefined;
  private leading = false;
  private term = 0;
  private observed: LeaderInfo | undefined;
  /** The newest leader ever seen, to count failovers. */
  private lastKnown: LeaderInfo | undefined;
  private closed = false;
  private loops: Promise<void>[] = [];
  /** Ends the observer's current wait (on close). */
  private wakeObserver: () => void = () => undefined;
  private counts = { elections: 0, stepDowns: 0, failovers: 0 };
  private lastStepDown: { at: number; reason: string } | undefined;

  constructor(private readonly options: ElectionOptions) {
    super();
    const ttlMs = options.ttlSeconds * 1000;
    this.client = new Etcd3({
      hosts: options.endpoints.map(endpointUrl),
      dialTimeout: ttlMs,
      // A unary call to an unreachable etcd fails within a TTL instead of hanging; streams set their own deadlines.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + ttlMs }),
    });
    this.root = this.client.namespace(options.prefix);
    this.keys = this.root.namespace('election/');
    this.value = JSON.stringify({ address: options.self } satisfies Published);
    this.retryMs = Math.min(1000, ttlMs / 3);
  }

  start(): void {
    this.loops = [this.campaignLoop(), this.observeLoop()];
  }

  isLeader(): boolean {
    return this.leading && this.keeper !== undefined && this.keeper.isValid();
  }

  role(): MasterRole {
    if (this.isLeader()) return MasterRole.Leader;
    return this.leader() === undefined ? MasterRole.Candidate : MasterRole.Standby;
  }

  leader(): LeaderInfo | undefined {
    if (this.isLeader()) return { address: this.options.self, term: this.term };
    // Our own key may still be in etcd after we stopped leading: that is no leader to send anyone to.
    const o = this.observed;
    return o !== undefined && o.address !== this.options.self ? o : undefined;
  }

  status(): HaStatus {
    const leader = this.leader();
    return {
      mode: 'etcd',
      role: masterRoleName(this.role()),
      leader: leader?.address ?? null,
      term: leader?.term ?? 0,
      leaseRemainingMs: this.isLeader() ? Math.round(this.keeper!.remainingMs()) : null,
      ...this.counts,
      lastStepDown: this.lastStepDown ? { agoMs: Math.round(LeaseKeeper.clock() - this.lastStepDown.at), reason: this.lastStepDown.reason } : null,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.keeper?.stop('the master is stopping');
    this.wakeObserver();
    await Promise.all(this.loops);
    this.client.close();
  }

  // ---- the roster: workers the leader knows, for the next leader ----

  /**
   * Publishes the workers this leader knows alive. Written only while this
   * master's election key still stands, so a deposed leader cannot overwrite
   * its successor's roster. Best effort: a failure leaves the old roster.
   */
  async publishRoster(workers: readonly string[]): Promise<void> {
    const lead = this.leadKey;
    if (lead === undefined || !this.isLeader()) return;
    await this.root
      .if(`election/${lead.key}`, 'Create', '==', lead.revision)
      .then(this.root.put('workers').value(JSON.stringify(workers)))
      .commit();
  }

  /** The roster the previous leader published; undefined when there is none. */
  async readRoster(): Promise<string[] | undefined> {
    const text = await this.root.get('workers').string();
    if (text === null) return undefined;
    const list: unknown = JSON.parse(text);
    return Array.isArray(list) && list.every((w) => typeof w === 'string') ? list : undefined;
  }

  // ---- campaigning ----

  private async campaignLoop(): Promise<void> {
    while (!this.closed) {
      let reason: string;
      try {
        reason = await this.campaign();
      } catch (err) {
        reason = `etcd: ${message(err)}`;
      }
      if (this.leading) {
        this.leading = false;
        this.leadKey = undefined;
        this.counts.stepDowns++;
        this.lastStepDown = { at: LeaseKeeper.clock(), reason };
        // Losing the lease is news for an operator; a clean stop is not.
        if (this.closed) this.options.log.info({ term: this.term, reason }, 'stepped down as leader');
        else this.options.log.warn({ term: this.term, reason }, 'stepped down as leader');
        this.emit('stepped-down', reason);
      } else if (!this.closed) {
        this.options.log.debug({ reason }, 'campaign ended');
      }
      if (!this.closed) await sleep(this.retryMs);
    }
  }

  /** One candidacy, from granting a lease to losing it; returns why it ended. */
  private async campaign(): Promise<string> {
    const requestedAt = LeaseKeeper.clock();
    const lease = this.keys.lease(this.options.ttlSeconds, { autoKeepAlive: false });
    // The keeper decides when the lease is lost; the package's own 'lost' event would only repeat it, later.
    lease.on('lost', () => undefined);
    let keeper: LeaseKeeper | undefined;
    try {
      const id = await lease.grant();
      if (this.closed) return 'the master is stopping';
      keeper = new LeaseKeeper(lease, this.options.ttlSeconds, requestedAt);
      this.keeper = keeper;
      const put = await this.keys.if(id, 'Create', '==', 0).then(this.keys.put(id).value(this.value).lease(id)).else(this.keys.get(id)).commit();
      const revision = put.succeeded ? put.header.revision : put.responses[0]!.response_range.kvs[0]!.create_revision;
      const waiting = new AbortController();
      const turn = await Promise.race([this.waitForTurn(revision, waiting.signal).then(() => undefined), keeper.lost]).finally(() => waiting.abort());
      if (turn !== undefined) return turn;
      if (!keeper.isValid()) return 'the lease may have expired while waiting for the turn';
      this.term = Number(revision);
      this.leadKey = { key: String(id), revision };
      this.leading = true;
      this.counts.elections++;
      this.options.log.info({ term: this.term, leaseTtlSeconds: this.options.ttlSeconds }, 'elected leader');
      this.emit('elected', this.term);
      return await keeper.lost;
    } finally {
      keeper?.stop();
      // Resign: revoking deletes our key, so the next candidate need not wait out the TTL. Bounded, as etcd may be gone.
      void lease.revoke({ deadline: Date.now() + 1000 }).catch(() => undefined);
    }
  }

  /**
   * Resolves once no key created before `revision` remains: the candidate's
   * turn to lead. A lost watch connection only means reading again.
   */
  private async waitForTurn(revision: string, signal: AbortSignal): Promise<void> {
    const before = (BigInt(revision) - 1n).toString();
    while (!this.closed && !signal.aborted) {
      const res = await this.keys.getAll().maxCreateRevision(before).sort('Create', 'Descend').limit(1).exec();
      const ahead = res.kvs[0];
      if (ahead === undefined) return;
      const from = (BigInt(res.header.revision) + 1n).toString();
      await this.waitForChange(this.keys.watch().key(ahead.key).startRevision(from).only('delete').watcher(), signal).catch(() => sleep(this.retryMs));
    }
  }

  /** Resolves at the watcher's first event, or when `signal` aborts; rejects when its connection is lost. Cancels it either way. */
  private async waitForChange(watcher: Watcher, signal?: AbortSignal): Promise<void> {
    let onAbort = (): void => undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        onAbort = resolve;
        signal?.addEventListener('abort', onAbort);
        if (signal?.aborted) resolve();
        watcher.once('data', () => resolve());
        watcher.once('disconnected', (err) => reject(err));
        watcher.once('error', reject);
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await watcher.cancel().catch(() => undefined);
    }
  }

  // ---- watching who leads ----

  private async observeLoop(): Promise<void> {
    while (!this.closed) {
      try {
        await this.observeOnce();
      } catch {
        this.setObserved(undefined);
        if (!this.closed) await sleep(this.retryMs);
      }
    }
  }

  /** Reads the current leader, then waits for any change to the election keys (or a lost connection). */
  private async observeOnce(): Promise<void> {
    const res = await this.keys.getAll().sort('Create', 'Ascend').limit(1).exec();
    const first = res.kvs[0];
    this.setObserved(first === undefined ? undefined : { address: addressOf(first), term: Number(first.create_revision) });
    if (this.closed) return;
    const stop = new AbortController();
    this.wakeObserver = () => stop.abort();
    try {
      await this.waitForChange(this.keys.watch().prefix('').startRevision((BigInt(res.header.revision) + 1n).toString()).watcher(), stop.signal);
    } finally {
      this.wakeObserver = () => undefined;
    }
  }

  private setObserved(next: LeaderInfo | undefined): void {
    this.observed = next;
    const last = this.lastKnown;
    if (next === undefined || (last !== undefined && next.term <= last.term)) return;
    this.lastKnown = next;
    if (last === undefined) return;
    this.counts.failovers++;
    this.options.log.info({ from: last.address, to: next.address, term: next.term }, 'leader changed');
  }
}
