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
  ) {
    this.key = shuffleKey(appId, shuffleId);
  }

  file(partitionId: number, epoch: number, mode: Mode): FileEntry | undefined {
    return this.byLocation.get(partitionId)?.get(epoch * 2 + mode);
  }

  addFile(entry: FileEntry): void {
    this.files.set(entry.fileName, entry);
    let epochs = this.byLocation.get(entry.partitionId);
    if (epochs === undefined) this.byLocation.set(entry.partitionId, (epochs = new Map()));
    epochs.set(entry.epoch * 2 + entry.mode, entry);
  }

  removeFile(fileName: string): FileEntry | undefined {
    const entry = this.files.get(fileName);
    if (entry === undefined) return undefined;
    this.files.delete(fileName);
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

  get(key: string): ShuffleState | undefined {
    return this.shuffles.get(key);
  }

  getOrCreate(appId: string, shuffleId: number): ShuffleState {
    const key = shuffleKey(appId, shuffleId);
    let s = this.shuffles.get(key);
    if (s === undefined) {
      s = new ShuffleState(appId, shuffleId);
      this.shuffles.set(key, s);
    }
    return s;
  }

  delete(key: string): ShuffleState | undefined {
    const s = this.shuffles.get(key);
    this.shuffles.delete(key);
    return s;
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
