import type { SlotLedger } from './slot-ledger.js';

export interface AppEntry {
  readonly appId: string;
  lastSeen: number;
  readonly shuffles: Set<number>;
}

export interface ShuffleEntry {
  readonly key: string;
  readonly appId: string;
  readonly shuffleId: number;
}

export function shuffleKey(appId: string, shuffleId: number): string {
  return `${appId}-${shuffleId}`;
}

/** The application part of a shuffle key: everything before the last '-' (app ids may contain '-'). */
const NO_SHUFFLES: ReadonlySet<number> = new Set();

export function appIdOfKey(key: string): string {
  const i = key.lastIndexOf('-');
  return i < 0 ? key : key.slice(0, i);
}

/**
 * Applications (alive while they heartbeat), their shuffles, and the shuffle
 * keys that have ended (unregistered, or their application expired), which
 * workers are told to delete.
 *
 * A key stays in the expired table until no live worker reports it any more
 * and at least `expiredGraceMs` has passed, so every live worker has
 * heartbeated once since the key expired; the table is thus bounded by what
 * the workers still hold. Keys of applications the master does not know are
 * reported expired without being stored, but only after the master has been
 * up for `appTimeoutMs`: after a restart, live applications get that long to
 * heartbeat and be known again.
 */
export class AppRegistry {
  private readonly apps = new Map<string, AppEntry>();
  private readonly shuffles = new Map<string, ShuffleEntry>();
  /** Expired key → when it expired. */
  private readonly expired = new Map<string, number>();
  /** Expired application → when it expired; kept like keys, while a worker's external shuffle service still reports it. */
  private readonly expiredApps = new Map<string, number>();

  constructor(
    private readonly appTimeoutMs: number,
    private readonly expiredGraceMs: number,
    private readonly startedAt: number,
    private readonly ledger: SlotLedger,
  ) {}

  /** Records a sign of life from `appId`, creating the application if needed. */
  has(appId: string): boolean {
    return this.apps.has(appId);
  }

  touch(appId: string, now: number): AppEntry {
    let app = this.apps.get(appId);
    if (app === undefined) {
      app = { appId, lastSeen: now, shuffles: new Set() };
      this.apps.set(appId, app);
      // An application heard of again is alive: workers keep its executors from now on.
      this.expiredApps.delete(appId);
    }
    app.lastSeen = Math.max(app.lastSeen, now);
    return app;
  }

  /**
   * Records a shuffle that just got slots. A key that had expired is live
   * again: the application asked for it, and the master's state is whatever
   * the application says last.
   */
  slotsGranted(appId: string, shuffleId: number, now: number): void {
    const key = shuffleKey(appId, shuffleId);
    this.expired.delete(key);
    this.addShuffle(this.touch(appId, now), shuffleId, key);
  }

  /**
   * An application heartbeat. Its shuffles are (re)registered, which rebuilds
   * a restarted master's view; a shuffle that was unregistered stays expired
   * (a heartbeat sent before the unregistration may arrive after it).
   */
  heartbeat(appId: string, shuffleIds: readonly number[], now: number): void {
    const app = this.touch(appId, now);
    for (const id of shuffleIds) {
      const key = shuffleKey(appId, id);
      if (!this.expired.has(key)) this.addShuffle(app, id, key);
    }
  }

  unregisterShuffle(appId: string, shuffleId: number, now: number): void {
    const app = this.apps.get(appId);
    if (app !== undefined) {
      app.lastSeen = Math.max(app.lastSeen, now);
      app.shuffles.delete(shuffleId);
    }
    // Expired even if unknown here: a restarted master may not have heard of it, but workers have its files.
    this.expireKey(shuffleKey(appId, shuffleId), now);
  }

  /**
   * Expires applications silent past the timeout and forgets expired keys
   * (and applications) no live worker holds. Returns the expired app ids.
   */
  sweep(now: number, reportedByWorkers: ReadonlySet<string>, essAppsOfWorkers: ReadonlySet<string> = new Set()): string[] {
    const gone: string[] = [];
    for (const app of this.apps.values()) {
      if (now - app.lastSeen <= this.appTimeoutMs) continue;
      for (const id of app.shuffles) this.expireKey(shuffleKey(app.appId, id), now);
      this.apps.delete(app.appId);
      this.expiredApps.set(app.appId, now);
      gone.push(app.appId);
    }
    for (const [key, at] of this.expired) {
      if (now - at > this.expiredGraceMs && !reportedByWorkers.has(key)) this.expired.delete(key);
    }
    for (const [appId, at] of this.expiredApps) {
      if (now - at > this.expiredGraceMs && !essAppsOfWorkers.has(appId)) this.expiredApps.delete(appId);
    }
    return gone;
  }

  /**
   * The applications among those a worker's external shuffle service holds
   * that have expired here. Only applications this master saw expire: one it
   * never heard of may simply not talk to the master.
   */
  expiredAppsAmong(appIds: readonly string[]): string[] {
    return appIds.filter((a) => this.expiredApps.has(a));
  }

  /** The keys among those a worker holds that it should delete. */
  expiredAmong(keys: readonly string[], now: number): string[] {
    const graceOver = now - this.startedAt > this.appTimeoutMs;
    const out: string[] = [];
    for (const key of keys) {
      if (this.expired.has(key) || (graceOver && !this.apps.has(appIdOfKey(key)))) out.push(key);
    }
    return out;
  }

  /** Whether the shuffle is registered here and not ended. */
  isLive(key: string): boolean {
    return this.shuffles.has(key);
  }

  /** The shuffles `appId` has registered (empty for an unknown application). */
  shufflesOf(appId: string): ReadonlySet<number> {
    return this.apps.get(appId)?.shuffles ?? NO_SHUFFLES;
  }

  applications(): IterableIterator<AppEntry> {
    return this.apps.values();
  }

  allShuffles(): IterableIterator<ShuffleEntry> {
    return this.shuffles.values();
  }

  expiredKeys(): IterableIterator<string> {
    return this.expired.keys();
  }

  private addShuffle(app: AppEntry, shuffleId: number, key: string): void {
    app.shuffles.add(shuffleId);
    if (!this.shuffles.has(key)) this.shuffles.set(key, { key, appId: app.appId, shuffleId });
  }

  private expireKey(key: string, now: number): void {
    this.shuffles.delete(key);
    this.ledger.release(key);
    if (!this.expired.has(key)) this.expired.set(key, now);
  }
}
