/**
 * Keeps one etcd lease alive and knows, on this host's clock, until when it
 * is surely still alive on etcd's side.
 *
 * etcd sets a lease to expire TTL seconds after it receives a keepalive, by
 * its own clock. This side knows only when it sent the keepalive, which was
 * no later than etcd received it; so the lease lives at least until
 * `sent + TTL`, measured by etcd. Our clock may run at a slightly different
 * rate from etcd's, and a decision taken just before the deadline still has
 * to leave the process: so the lease counts as held only until
 * `sent + TTL × (1 - CLOCK_RATE_ALLOWANCE) - SERVE_MARGIN_MS`, on the
 * monotonic clock (a wall-clock step must not stretch it).
 *
 * Each keepalive is its own request and answer (`keepaliveOnce`), so every
 * answer is paired with the exact time its request left. (The etcd3
 * package's own keepalive loop streams them without that pairing, and
 * reports the lease lost only 2 × TTL after the last answer: far too late
 * to step down before another master is elected.)
 *
 * The lease is lost when its deadline passes without a newer answer, or when
 * etcd answers that it no longer exists. That is the one signal a leader
 * steps down on.
 */
import { performance } from 'node:perf_hooks';
import { EtcdLeaseInvalidError, type Lease } from 'etcd3';

/** Clock-rate difference allowed between this host and etcd: far beyond what NTP-disciplined clocks drift (0.05 %). */
export const CLOCK_RATE_ALLOWANCE = 0.05;
/** Held this long less: an answer decided just before the deadline may still be on its way out. */
export const SERVE_MARGIN_MS = 200;

/** How long a lease of `ttlSeconds` surely lives after a keepalive sent at time 0. */
export function heldForMs(ttlSeconds: number): number {
  return ttlSeconds * 1000 * (1 - CLOCK_RATE_ALLOWANCE) - SERVE_MARGIN_MS;
}

const monotonic = (): number => performance.now();

export class LeaseKeeper {
  private validUntil: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private settle!: (reason: string) => void;
  /** Resolves, with why, once the lease may have expired on etcd's side (or etcd says it has). */
  readonly lost: Promise<string>;

  /**
   * `requestedAt` is when the grant request left (monotonic ms), `ttlSeconds`
   * the TTL asked for (etcd may grant more, never less).
   */
  constructor(
    private readonly lease: Lease,
    private readonly ttlSeconds: number,
    requestedAt: number,
    private readonly now: () => number = monotonic,
  ) {
    this.validUntil = requestedAt + heldForMs(ttlSeconds);
    this.lost = new Promise((resolve) => (this.settle = resolve));
    this.arm();
    void this.keepAlive();
  }

  /** Monotonic milliseconds, the clock every deadline here is on. */
  static clock(): number {
    return monotonic();
  }

  /** True while the lease surely exists on etcd's side. */
  isValid(): boolean {
    return !this.stopped && this.now() < this.validUntil;
  }

  remainingMs(): number {
    return Math.max(0, this.validUntil - this.now());
  }

  /** Stops the keepalives (the lease then expires on its own, unless revoked). */
  stop(reason = 'stopped'): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.settle(reason);
  }

  /** A timer at the deadline: if no answer moved it, the lease is lost. */
  private arm(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const left = this.validUntil - this.now();
    if (left <= 0) {
      this.stop(`no keepalive answered for ${this.ttlSeconds} s less the safety margin: the lease may have expired`);
      return;
    }
    this.timer = setTimeout(() => this.arm(), left);
    this.timer.unref();
  }

  private async keepAlive(): Promise<void> {
    // Three keepalives per TTL, as etcd's own clients do: two can be lost before the deadline.
    const intervalMs = (this.ttlSeconds * 1000) / 3;
    while (!this.stopped) {
      const sentAt = this.now();
      try {
        // A keepalive that gets no answer must not wait forever: it is worthless past the deadline anyway.
        const res = await this.lease.keepaliveOnce({ deadline: Date.now() + Math.max(100, this.validUntil - sentAt) });
        const ttl = Number(res.TTL);
        if (!(ttl > 0)) throw new EtcdLeaseInvalidError(String(res.ID));
        this.validUntil = Math.max(this.validUntil, sentAt + heldForMs(ttl));
        this.arm();
      } catch (err) {
        if (err instanceof EtcdLeaseInvalidError) {
          this.stop('etcd says the lease no longer exists');
          return;
        }
        // etcd unreachable or slow: keep trying until the deadline decides.
      }
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (this.now() - sentAt))).unref());
    }
  }
}
