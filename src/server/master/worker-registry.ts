import { addressKey, type Address, type DiskInfo } from '../../protocol/index.js';

/** What the master knows of one worker; all of it comes from the worker's own messages. */
export interface WorkerEntry {
  readonly key: string;
  readonly address: Address;
  disks: DiskInfo[];
  lastSeen: number;
  lost: boolean;
  shuttingDown: boolean;
  /** The shuffle keys the worker held at its last heartbeat. */
  activeShuffleKeys: readonly string[];
  /** The applications with executors in its external shuffle service at its last heartbeat. */
  essAppIds: readonly string[];
}

export interface HeartbeatReport {
  address: Address;
  disks: DiskInfo[];
  activeShuffleKeys: string[];
  shuttingDown: boolean;
  essAppIds: string[];
}

/** Bytes a worker can still take: the free space of its healthy disks. */
export function freeBytes(w: WorkerEntry): number {
  let sum = 0;
  for (const d of w.disks) if (d.healthy) sum += d.freeBytes;
  return sum;
}

/**
 * Workers keyed by `host:port`. A worker is lost once silent past the
 * timeout; it stays listed (for status) but is out of allocation until it
 * registers again. Entries are never dropped: their number is bounded by the
 * cluster's size.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerEntry>();

  constructor(private readonly timeoutMs: number) {}

  register(address: Address, disks: DiskInfo[], now: number): WorkerEntry {
    const key = addressKey(address);
    const existing = this.workers.get(key);
    if (existing !== undefined) {
      existing.disks = disks;
      existing.lastSeen = now;
      existing.lost = false;
      existing.shuttingDown = false;
      return existing;
    }
    const entry: WorkerEntry = {
      key,
      address: { host: address.host, port: address.port },
      disks,
      lastSeen: now,
      lost: false,
      shuttingDown: false,
      activeShuffleKeys: [],
      essAppIds: [],
    };
    this.workers.set(key, entry);
    return entry;
  }

  /**
   * Applies a heartbeat. Returns undefined when the worker is unknown or was
   * declared lost: it must register again, so that a worker coming back is
   * seen to come back, with fresh disks, before it gets slots. With
   * `adoptUnknown` (a new leader rebuilding its view) an unknown worker's
   * heartbeat registers it: it carries all a registration does.
   */
  heartbeat(report: HeartbeatReport, now: number, adoptUnknown = false): WorkerEntry | undefined {
    let entry = this.workers.get(addressKey(report.address));
    if (entry === undefined && adoptUnknown) entry = this.register(report.address, report.disks, now);
    if (entry === undefined || entry.lost) return undefined;
    if (now - entry.lastSeen > this.timeoutMs) {
      // The sweep has not run yet, but the worker was silent too long all the same.
      entry.lost = true;
      return undefined;
    }
    entry.disks = report.disks;
    entry.lastSeen = now;
    entry.shuttingDown = report.shuttingDown;
    entry.activeShuffleKeys = report.activeShuffleKeys;
    entry.essAppIds = report.essAppIds;
    return entry;
  }

  /** Marks every worker silent past the timeout as lost; returns those newly lost. */
  sweep(now: number): WorkerEntry[] {
    const lost: WorkerEntry[] = [];
    for (const w of this.workers.values()) {
      if (!w.lost && now - w.lastSeen > this.timeoutMs) {
        w.lost = true;
        lost.push(w);
      }
    }
    return lost;
  }

  get(address: Address): WorkerEntry | undefined {
    return this.workers.get(addressKey(address));
  }

  isAlive(w: WorkerEntry, now: number): boolean {
    return !w.lost && now - w.lastSeen <= this.timeoutMs;
  }

  /** Workers that may take new slots, sorted by address key so that allocation is deterministic. */
  candidates(excluded: ReadonlySet<string>, now: number): WorkerEntry[] {
    const out: WorkerEntry[] = [];
    for (const w of this.workers.values()) {
      if (!this.isAlive(w, now) || w.shuttingDown || excluded.has(w.key)) continue;
      if (!w.disks.some((d) => d.healthy && d.freeBytes > 0)) continue;
      out.push(w);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Every shuffle key some live worker reported at its last heartbeat. */
  reportedKeys(now: number): Set<string> {
    return this.reported(now, (w) => w.activeShuffleKeys);
  }

  /** Every application some live worker's external shuffle service reported at its last heartbeat. */
  reportedEssApps(now: number): Set<string> {
    return this.reported(now, (w) => w.essAppIds);
  }

  private reported(now: number, of: (w: WorkerEntry) => readonly string[]): Set<string> {
    const out = new Set<string>();
    for (const w of this.workers.values()) if (this.isAlive(w, now)) for (const x of of(w)) out.add(x);
    return out;
  }

  all(): IterableIterator<WorkerEntry> {
    return this.workers.values();
  }
}
