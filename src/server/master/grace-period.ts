/**
 * A new leader's grace period: the time it gives workers to heartbeat it
 * before it serves slot requests, so that slots are spread over every worker
 * that is still there and not over the first to come back.
 *
 * It ends after `graceMs`, or sooner: once every worker of the roster the
 * previous leader published has heartbeated (at once if that roster is
 * empty). Without a roster (a cluster's first leader, or one whose
 * predecessor never published one) it runs its full length: nobody knows
 * which workers are still to come.
 */
export class GracePeriod {
  private over: boolean;
  private expected: Set<string> | undefined;
  private readonly seen = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private finish: () => void = () => undefined;
  private readonly ended: Promise<void>;

  constructor(
    private readonly graceMs: number,
    private readonly startedAt: number,
    private readonly now: () => number,
  ) {
    this.over = graceMs <= 0;
    this.ended = new Promise((resolve) => (this.finish = resolve));
    if (this.over) this.finish();
    else {
      this.timer = setTimeout(() => this.end(), graceMs);
      this.timer.unref();
    }
  }

  get active(): boolean {
    return !this.over;
  }

  remainingMs(): number {
    return this.over ? 0 : Math.max(0, this.startedAt + this.graceMs - this.now());
  }

  /** Resolves when the grace period is over (or was ended). */
  whenOver(): Promise<void> {
    return this.ended;
  }

  /** The workers the previous leader knew alive. */
  expect(roster: readonly string[]): void {
    if (this.over) return;
    this.expected = new Set(roster);
    this.check();
  }

  /** A worker registered or heartbeated. */
  workerSeen(key: string): void {
    if (this.over) return;
    this.seen.add(key);
    this.check();
  }

  end(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.over = true;
    this.finish();
  }

  private check(): void {
    if (this.expected === undefined) return;
    for (const k of this.expected) if (!this.seen.has(k)) return;
    this.end();
  }
}
