/**
 * How a worker leaves service, the one path for a graceful stop (SIGTERM)
 * and for a decommission:
 *
 * 1. It stops taking work: new pushes get HARD_SPLIT (their writers move to
 *    other workers), new reservations are refused, and the master hears it
 *    at once, so no new slots land here.
 * 2. It keeps listening while it waits. A stop waits until every shuffle it
 *    holds has been committed by its application (the stage-end CommitFiles),
 *    at most `drainTimeoutMs`; a decommission waits, serving reads, until
 *    every shuffle with data here has been unregistered or has expired, at
 *    most `decommissionTimeoutMs`. A stop asked for during a decommission
 *    cuts the second wait short.
 * 3. It releases everything (closes the server, commits and persists what is
 *    still open) and is stopped.
 *
 * What it waits for is in the status and in the log.
 */
import type { Logger } from '../../log/index.js';
import type { ShuffleRegistry, ShuffleState } from './shuffle-registry.js';

export type ServiceState = 'serving' | 'decommissioning' | 'stopping' | 'stopped';

/** One shuffle the worker waits for: its files here, and how many are not committed yet. */
export interface HeldShuffle {
  key: string;
  files: number;
  uncommitted: number;
}

export interface DepartureStatus {
  state: ServiceState;
  /** While leaving: 'commits' (a stop) or 'shuffles' (a decommission), the shuffles still waited for, and the deadline. */
  waitingFor?: { what: 'commits' | 'shuffles'; shuffles: HeldShuffle[]; deadline: string };
}

export interface DepartureOptions {
  registry: ShuffleRegistry;
  /** Stops taking pushes and reservations. */
  refuseWork(): void;
  /** Tells the master now (a heartbeat carrying shuttingDown). */
  announce(): Promise<void>;
  /** Control calls being served now (a commit, an unregistration): their answers leave before the server closes. */
  callsInFlight(): number;
  /** Closes the server and every resource; the worker is gone after it. */
  release(): Promise<void>;
  drainTimeoutMs: number;
  decommissionTimeoutMs: number;
  log: Logger;
}

const POLL_MS = 100;
/** The "waiting for" line is repeated at most this often while the wait lasts. */
const REPEAT_LOG_MS = 10_000;
/** Shuffles listed in a log line or the status at most. */
const LIST_MAX = 20;

function uncommittedFiles(s: ShuffleState): number {
  let n = 0;
  for (const f of s.files.values()) if (f.committed === undefined && f.writer !== undefined) n++;
  return n;
}

export class Departure {
  private state: ServiceState = 'serving';
  private goal: 'commits' | 'shuffles' = 'commits';
  private deadline = 0;
  private leaving: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private resolveStopped!: () => void;
  /** Resolves once the worker has stopped, whoever asked. */
  readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly o: DepartureOptions) {}

  /** Starts a decommission (idempotent); returns at once with the status. */
  decommission(): DepartureStatus {
    if (this.state === 'serving') {
      this.state = 'decommissioning';
      this.goal = 'shuffles';
      this.deadline = Date.now() + this.o.decommissionTimeoutMs;
      this.o.log.info({ deadline: new Date(this.deadline).toISOString() }, 'decommission started: no new slots or pushes; serving reads until every shuffle here is unregistered or expired');
      this.leaving = this.leave();
    }
    return this.status();
  }

  /** A graceful stop; during a decommission it stops waiting for reads (commits are still waited for). */
  stop(): Promise<void> {
    if (this.state === 'serving') {
      this.state = 'stopping';
      this.goal = 'commits';
      this.deadline = Date.now() + this.o.drainTimeoutMs;
      this.o.log.info({ drainTimeoutMs: this.o.drainTimeoutMs }, 'stopping: no new slots or pushes; waiting for the commits of the shuffles held here');
      this.leaving = this.leave();
    } else if (this.state === 'decommissioning') {
      this.state = 'stopping';
      this.goal = 'commits';
      this.deadline = Math.min(this.deadline, Date.now() + this.o.drainTimeoutMs);
      this.o.log.info('stop asked during decommission: no longer waiting for reads');
      this.wake?.();
    }
    return this.leaving ?? this.stopped;
  }

  status(): DepartureStatus {
    if (this.state !== 'decommissioning' && this.state !== 'stopping') return { state: this.state };
    return { state: this.state, waitingFor: { what: this.goal, shuffles: this.waited().slice(0, LIST_MAX), deadline: new Date(this.deadline).toISOString() } };
  }

  /** The shuffles the current goal still waits for. */
  private waited(): HeldShuffle[] {
    const out: HeldShuffle[] = [];
    for (const s of this.o.registry.all()) {
      const uncommitted = uncommittedFiles(s);
      if (this.goal === 'shuffles' || uncommitted > 0) out.push({ key: s.key, files: s.files.size, uncommitted });
    }
    return out;
  }

  private async leave(): Promise<void> {
    this.o.refuseWork();
    await this.o.announce().catch(() => undefined);
    const started = Date.now();
    let loggedAt = 0;
    let loggedGoal: string | undefined;
    for (;;) {
      const waiting = this.waited();
      if (waiting.length === 0 && this.o.callsInFlight() === 0) break;
      const now = Date.now();
      if (now >= this.deadline) {
        this.o.log.warn(
          { waited: this.goal, shuffles: waiting.slice(0, LIST_MAX), count: waiting.length, afterMs: now - started },
          this.goal === 'commits'
            ? 'drain timeout: stopping with shuffles not committed by their applications (their files are committed here and kept)'
            : 'decommission timeout: stopping while shuffles are still registered',
        );
        break;
      }
      if (loggedGoal !== this.goal || now - loggedAt >= REPEAT_LOG_MS) {
        loggedAt = now;
        loggedGoal = this.goal;
        this.o.log.info(
          { shuffles: waiting.slice(0, LIST_MAX), count: waiting.length, remainingMs: this.deadline - now },
          this.goal === 'commits' ? 'waiting for commits before stopping' : 'decommission: waiting for shuffles to be unregistered or expire',
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    this.o.log.info({ waitedMs: Date.now() - started }, this.state === 'decommissioning' ? 'decommission complete: stopping' : 'drained: stopping');
    this.state = 'stopping';
    try {
      await this.o.release();
    } finally {
      this.state = 'stopped';
      this.o.log.info('stopped');
      this.resolveStopped();
    }
  }
}
