/**
 * A bound on the partition files a process keeps open. A worker can hold
 * tens of thousands of partition files (at commit, all flush at once), far
 * more than the descriptor limit; each writer holds a slot from opening its
 * file until closing it. When every slot is taken, the least recently idle
 * writer closes its file (it opens it again for its next write); with none
 * idle, the opener waits until a writer goes idle or closes.
 */
export interface SlotHolder {
  /** Closes the holder's idle file; the holder calls release() once it is closed. */
  evict(): void;
}

export class DescriptorSlots {
  private used = 0;
  /** Holders with an open file and nothing to write, least recently used first. */
  private readonly idle = new Set<SlotHolder>();
  private readonly waiters: (() => void)[] = [];

  constructor(public max: number) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves once the caller holds a slot. */
  acquire(): Promise<void> {
    if (this.used < this.max) {
      this.used++;
      return Promise.resolve();
    }
    const granted = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.evictOldestIdle();
    return granted;
  }

  /** Gives a slot back (the file is closed); a waiter gets it at once. */
  release(holder?: SlotHolder): void {
    if (holder !== undefined) this.idle.delete(holder);
    const next = this.waiters.shift();
    if (next) next();
    else this.used--;
  }

  /** The holder has nothing in flight: its file may be closed for someone else. */
  markIdle(holder: SlotHolder): void {
    this.idle.delete(holder);
    this.idle.add(holder);
    if (this.waiters.length > 0) this.evictOldestIdle();
  }

  markBusy(holder: SlotHolder): void {
    this.idle.delete(holder);
  }

  private evictOldestIdle(): void {
    const oldest = this.idle.values().next();
    if (oldest.done === true) return;
    this.idle.delete(oldest.value);
    oldest.value.evict();
  }
}
