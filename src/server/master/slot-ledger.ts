/**
 * Slots handed out, per shuffle and per worker (a primary and a replica each
 * count one). Load-aware allocation reads the per-worker totals; releasing a
 * shuffle gives its slots back.
 */
export class SlotLedger {
  private readonly byShuffle = new Map<string, Map<string, number>>();
  private readonly byWorker = new Map<string, number>();

  add(shuffleKey: string, workerKey: string, n = 1): void {
    let perWorker = this.byShuffle.get(shuffleKey);
    if (perWorker === undefined) {
      perWorker = new Map();
      this.byShuffle.set(shuffleKey, perWorker);
    }
    perWorker.set(workerKey, (perWorker.get(workerKey) ?? 0) + n);
    this.byWorker.set(workerKey, (this.byWorker.get(workerKey) ?? 0) + n);
  }

  /**
   * Raises the count of a shuffle's slots on a worker to at least `n`: what
   * the worker reports holding. A new leader learns this way the slots a
   * previous leader handed out; slots it granted itself that the worker has
   * not reserved yet are kept.
   */
  atLeast(shuffleKey: string, workerKey: string, n: number): void {
    const have = this.byShuffle.get(shuffleKey)?.get(workerKey) ?? 0;
    if (n > have) this.add(shuffleKey, workerKey, n - have);
  }

  release(shuffleKey: string): void {
    const perWorker = this.byShuffle.get(shuffleKey);
    if (perWorker === undefined) return;
    this.byShuffle.delete(shuffleKey);
    for (const [workerKey, n] of perWorker) {
      const left = (this.byWorker.get(workerKey) ?? 0) - n;
      if (left > 0) this.byWorker.set(workerKey, left);
      else this.byWorker.delete(workerKey);
    }
  }

  workerSlots(workerKey: string): number {
    return this.byWorker.get(workerKey) ?? 0;
  }

  shuffleSlots(shuffleKey: string): ReadonlyMap<string, number> {
    return this.byShuffle.get(shuffleKey) ?? new Map<string, number>();
  }

  shuffleTotal(shuffleKey: string): number {
    let sum = 0;
    for (const n of this.shuffleSlots(shuffleKey).values()) sum += n;
    return sum;
  }
}
