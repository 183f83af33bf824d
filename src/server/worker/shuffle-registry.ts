import { type Address, type Mode } from '../../protocol/index.js';
import type { PartitionWriter } from '../../storage/index.js';

/** What a committed file is, as persisted and as served. */
export interface CommittedFile {
  path: string;
  bytes: number;
  chunkOffsets: number[];
  mapIds: number[];
}

/** One reserved location copy on this worker. */
export interface FileEntry {
  readonly fileName: string;
  readonly partitionId: number;
  readonly epoch: number;
  readonly mode: Mode;
  /** For a primary: the replica to forward to. */
  readonly peer: Address | undefined;
  /** `addressKey(peer)`, computed once: pushes group forwarded batches by it. */
  readonly peerKey: string | undefined;
  readonly splitThreshold: number;
  writer: PartitionWriter | undefined;
  committed: CommittedFile | undefined;
  committing: Promise<CommittedFile> | undefined;
  /** Bytes this file holds, as counted against its application's quota (see ShuffleState.addBytes). */
  bytes: number;
}

/** What one application holds on this worker, kept up to date for its quotas. */
export interface AppUsage {
  readonly appId: string;
  bytes: number;
  files: number;
  shuffles: number;
}

export class ShuffleState {
  readonly key: string;
  /** By file name; change it only through addFile/removeFile, which keep the push lookup in step. */
  readonly files = new Map<string, FileEntry>();
  /** partitionId → (epoch × 2 + mode) → file: the per-batch lookup of pushes, without building a name. */
  private readonly byLocation = new Map<number, Map<number, FileEntry>>();
  /** Winning attempt per map, known once the shuffle was committed (-1: none). */
  mapAttempts: number[] | undefined;

  constructor(
    readonly appId: string,
    readonly shuffleId: number,
    /** The application's usage, shared by all its shuffles here. */
    readonly usage: AppUsage,
  ) {
    this.key = shuffleKey(appId, shuffleId);
  }

  /** Counts `n` more bytes held by `entry` (a kept batch). */
  addBytes(entry: FileEntry, n: number): void {
    entry.bytes += n;
    this.usage.bytes += n;
  }

  file(partitionId: number, epoch: number, mode: Mode): FileEntry | undefined {
    return this.byLocation.get(partitionId)?.get(epoch * 2 + mode);
  }

  addFile(entry: FileEntry): void {
    this.files.set(entry.fileName, entry);
    this.usage.files++;
    this.usage.bytes += entry.bytes;
    let epochs = this.byLocation.get(entry.partitionId);
    if (epochs === undefined) this.byLocation.set(entry.partitionId, (epochs = new Map()));
    epochs.set(entry.epoch * 2 + entry.mode, entry);
  }

  removeFile(fileName: string): FileEntry | undefined {
    const entry = this.files.get(fileName);
    if (entry === undefined) return undefined;
    this.files.delete(fileName);
    this.usage.files--;
    this.usage.bytes -= entry.bytes;
    const epochs = this.byLocation.get(entry.partitionId);
    epochs?.delete(entry.epoch * 2 + entry.mode);
    if (epochs?.size === 0) this.byLocation.delete(entry.partitionId);
    return entry;
  }

  /** True when `attemptId` is the committed winner of `mapId`: its late pushes are dropped. */
  isWinner(mapId: number, attemptId: number): boolean {
    const a = this.mapAttempts;
    return a !== undefined && mapId < a.length && a[mapId] === attemptId;
  }
}

export function shuffleKey(appId: string, shuffleId: number): string {
  return `${appId}-${shuffleId}`;
}

/** The application part of a shuffle key (everything before the last '-'). */
export function appIdOfKey(key: string): string {
  const i = key.lastIndexOf('-');
  return i < 0 ? key : key.slice(0, i);
}

/** Every shuffle this worker holds, reserved or committed. */
export class ShuffleRegistry {
  private readonly shuffles = new Map<string, ShuffleState>();
  /** Per application with anything here: bytes, files and shuffles it holds. */
  private readonly usage = new Map<string, AppUsage>();

  get(key: string): ShuffleState | undefined {
    return this.shuffles.get(key);
  }

  getOrCreate(appId: string, shuffleId: number): ShuffleState {
    const key = shuffleKey(appId, shuffleId);
    let s = this.shuffles.get(key);
    if (s === undefined) {
      let usage = this.usage.get(appId);
      if (usage === undefined) this.usage.set(appId, (usage = { appId, bytes: 0, files: 0, shuffles: 0 }));
      usage.shuffles++;
      s = new ShuffleState(appId, shuffleId, usage);
      this.shuffles.set(key, s);
    }
    return s;
  }

  delete(key: string): ShuffleState | undefined {
    const s = this.shuffles.get(key);
    if (s === undefined) return undefined;
    this.shuffles.delete(key);
    const u = s.usage;
    u.shuffles--;
    u.files -= s.files.size;
    for (const f of s.files.values()) u.bytes -= f.bytes;
    if (u.shuffles === 0) this.usage.delete(s.appId);
    return s;
  }

  /** What `appId` holds here (undefined: nothing). */
  usageOf(appId: string): AppUsage | undefined {
    return this.usage.get(appId);
  }

  /** Every application holding something here. */
  applications(): IterableIterator<AppUsage> {
    return this.usage.values();
  }

  keys(): string[] {
    return [...this.shuffles.keys()];
  }

  all(): IterableIterator<ShuffleState> {
    return this.shuffles.values();
  }

  /** Writers that hold buffered bytes (flushed under memory pressure and at shutdown). */
  *writers(): Generator<PartitionWriter> {
    for (const s of this.shuffles.values()) {
      for (const f of s.files.values()) if (f.writer && f.committed === undefined) yield f.writer;
    }
  }
}
