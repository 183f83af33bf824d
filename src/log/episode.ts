import type { Logger } from 'pino';

/**
 * A failure that lasts (a master that does not answer): warned when it
 * starts, again at most every `everyMs` while it lasts (with how many
 * failures and for how long), and one info line when it ends. A log that
 * says something once per episode, not once per retry.
 */
export class Episode {
  private since = 0;
  private warnedAt = 0;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs: number,
  ) {}

  get ongoing(): boolean {
    return this.since !== 0;
  }

  failed(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    this.failures++;
    if (this.since === 0) this.since = now;
    if (this.warnedAt !== 0 && now - this.warnedAt < this.everyMs) return;
    this.warnedAt = now;
    this.log.warn({ ...fields, failures: this.failures, forMs: now - this.since }, message);
  }

  ended(fields: Record<string, unknown>, message: string): void {
    if (this.since === 0) return;
    this.log.info({ ...fields, failures: this.failures, forMs: Date.now() - this.since }, message);
    this.since = 0;
    this.warnedAt = 0;
    this.failures = 0;
  }
}
