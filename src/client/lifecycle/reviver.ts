import { moduleLogger } from '../../log/index.js';
import {
  BraidError,
  ErrorCodes,
  PushStatus,
  addressKey,
  asBraidError,
  isPushFailure,
  type Address,
  type PartitionLocation,
} from '../../protocol/index.js';
import { deferred, type Deferred, type ShuffleState } from './shuffle-state.js';
import type { SlotReserver } from './slot-reserver.js';

const log = moduleLogger('lifecycle');

export interface ReviveRequest {
  partitionId: number;
  /** The epoch the writer was pushing to. */
  epoch: number;
  mapId: number;
  attemptId: number;
  /** The push status that made the writer revive (a split or a failure). */
  cause: number;
}

export interface ReviveResult {
  /** SUCCESS with the newest location, MAP_ENDED (drop the data), or a failure status. */
  status: number;
  location?: PartitionLocation;
}

/** A new epoch waiting for the next batch: one per (shuffle, partition, old epoch). */
interface PendingEpoch {
  partitionId: number;
  oldEpoch: number;
  avoid: Map<string, Address>;
  done: Deferred<PartitionLocation>;
}

/**
 * Moves partitions to new epochs. Revives that arrive within one short
 * window are gathered and served by one slot request per shuffle; concurrent
 * revives of the same (partition, old epoch) share one new location.
 */
export class Reviver {
  private pending = new Map<ShuffleState, Map<string, PendingEpoch>>();
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    private readonly reserver: SlotReserver,
    private readonly windowMs: number,
  ) {}

  /** Answers every request, in order. Never throws for one request's failure: that is its status. */
  revive(state: ShuffleState, requests: readonly ReviveRequest[]): Promise<ReviveResult[]> {
    return Promise.all(requests.map((r) => this.reviveOne(state, r)));
  }

  private async reviveOne(state: ShuffleState, req: ReviveRequest): Promise<ReviveResult> {
    if (state.removed) return { status: PushStatus.FAIL_UNKNOWN_SHUFFLE };
    if (state.mapEnded(req.mapId)) return { status: PushStatus.MAP_ENDED };
    const current = state.current(req.partitionId);
    // A writer can only know epochs we handed out: a newer one than ours is a bad request.
    if (current === undefined || req.epoch > current.epoch) return { status: PushStatus.FAIL_UNKNOWN_LOCATION };
    if (current.epoch > req.epoch) return { status: PushStatus.SUCCESS, location: current };
    const key = `${req.partitionId}/${req.epoch}`;
    let next = state.reviving.get(key);
    if (next === undefined) {
      next = this.schedule(state, req, current);
      state.reviving.set(key, next);
      const promise = next;
      promise.then(
        () => state.reviving.delete(key),
        () => state.reviving.delete(key),
      );
    } else if (workerFailed(req.cause)) {
      const waiting = this.pending.get(state)?.get(key);
      if (waiting !== undefined) addAvoid(waiting.avoid, current);
    }
    try {
      return { status: PushStatus.SUCCESS, location: await next };
    } catch (err) {
      // Decide at answer time: the map may have ended, or the shuffle gone, while we allocated.
      if (state.removed) return { status: PushStatus.FAIL_UNKNOWN_SHUFFLE };
      if (state.mapEnded(req.mapId)) return { status: PushStatus.MAP_ENDED };
      log().warn({ shuffleId: state.shuffleId, partitionId: req.partitionId, epoch: req.epoch, reason: asBraidError(err).message }, 'revive failed: no new location this time');
      return { status: PushStatus.FAIL_UNKNOWN_LOCATION };
    }
  }

  private schedule(state: ShuffleState, req: ReviveRequest, current: PartitionLocation): Promise<PartitionLocation> {
    if (this.closed) return Promise.reject(new BraidError(ErrorCodes.SHUTTING_DOWN, 'lifecycle manager is closed'));
    const entry: PendingEpoch = { partitionId: req.partitionId, oldEpoch: req.epoch, avoid: new Map(), done: deferred() };
    // After a split the old worker is healthy; after a failure, keep the new epoch away from it.
    if (workerFailed(req.cause)) addAvoid(entry.avoid, current);
    let batch = this.pending.get(state);
    if (batch === undefined) {
      batch = new Map();
      this.pending.set(state, batch);
    }
    batch.set(`${req.partitionId}/${req.epoch}`, entry);
    if (this.timer === undefined && this.immediate === undefined) {
      if (this.windowMs === 0) this.immediate = setImmediate(() => this.flush());
      else this.timer = setTimeout(() => this.flush(), this.windowMs);
    }
    return entry.done.promise;
  }

  private flush(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const batches = this.pending;
    this.pending = new Map();
    for (const [state, entries] of batches) void this.allocate(state, [...entries.values()]);
  }

  private async allocate(state: ShuffleState, entries: PendingEpoch[]): Promise<void> {
    const fail = (err: unknown) => entries.forEach((e) => e.done.reject(err));
    if (state.removed) return fail(new BraidError(ErrorCodes.UNKNOWN_SHUFFLE, `shuffle ${state.shuffleId} is unregistered`));
    const avoid = new Map<string, Address>();
    for (const e of entries) for (const [k, a] of e.avoid) avoid.set(k, a);
    let locations: PartitionLocation[];
    try {
      const targets = entries.map((e) => ({ partitionId: e.partitionId, epoch: e.oldEpoch + 1 }));
      locations = await this.reserver.allocate(state.shuffleId, targets, { avoid: [...avoid.values()] });
    } catch (err) {
      return fail(err);
    }
    // The stage may have ended (its commit covers the epochs known then) or the shuffle gone meanwhile.
    if (state.removed || state.outputs.allEnded) {
      void this.reserver.release(state.shuffleId, locations);
      return fail(new BraidError(ErrorCodes.LOCATION_COMMITTED, `shuffle ${state.shuffleId} ended while reviving`));
    }
    const unused: PartitionLocation[] = [];
    entries.forEach((e, i) => {
      const loc = locations[i]!;
      try {
        state.addEpoch(loc);
        e.done.resolve(loc);
      } catch (err) {
        unused.push(loc);
        e.done.reject(err);
      }
    });
    if (unused.length > 0) void this.reserver.release(state.shuffleId, unused);
  }

  /** Fails revives that have not been sent yet; allocations under way finish on their own. */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const err = new BraidError(ErrorCodes.SHUTTING_DOWN, 'lifecycle manager is closed');
    for (const entries of this.pending.values()) for (const e of entries.values()) e.done.reject(err);
    this.pending.clear();
  }
}

function addAvoid(avoid: Map<string, Address>, loc: PartitionLocation): void {
  avoid.set(addressKey(loc.primary), loc.primary);
  if (loc.replica !== undefined) avoid.set(addressKey(loc.replica), loc.replica);
}

/** Whether the push failed because of the old location's workers (split and stage-retry causes do not). */
function workerFailed(cause: number): boolean {
  return isPushFailure(cause) && cause !== PushStatus.FAIL_LOCATION_COMMITTED;
}
