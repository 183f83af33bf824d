import {
  BraidError,
  ErrorCodes,
  PushStatus,
  RegisterShuffle,
  Revive,
  type PartitionLocation,
} from '../protocol/index.js';
import type { Connection } from '../transport/index.js';

interface ReviveWaiter {
  partitionId: number;
  epoch: number;
  mapId: number;
  attemptId: number;
  cause: number;
  resolve(r: ReviveOutcome): void;
}

export type ReviveOutcome = { status: typeof PushStatus.SUCCESS; location: PartitionLocation } | { status: number; location: undefined };

/**
 * The client's view of one shuffle's locations: registered lazily (once per
 * process, single-flight), moved to newer epochs by revives. Revives asked
 * within one turn of the event loop go to the LifecycleManager as one
 * request. Each ask keeps its own (map, attempt) and gets its own answer:
 * one map may be told MAP_ENDED while another map's batch for the same
 * partition gets the new epoch. The LifecycleManager gives every ask for one
 * (partition, epoch) the same new location.
 */
export class ShuffleLocations {
  private locations: PartitionLocation[] = [];
  private registering: Promise<void> | undefined;
  private pendingRevives: ReviveWaiter[] = [];
  private reviveScheduled = false;
  /** (partition, epoch) pairs with a soft-split revive on its way. */
  private readonly softSplits = new Set<string>();

  constructor(
    readonly shuffleId: number,
    private readonly lm: () => Promise<Connection>,
  ) {}

  /** Registers the shuffle with the LifecycleManager the first time any task of this process pushes to it. */
  ensureRegistered(numMappers: number, numPartitions: number): Promise<void> {
    this.registering ??= (async () => {
      const conn = await this.lm();
      const res = await conn.call(RegisterShuffle, { shuffleId: this.shuffleId, numMappers, numPartitions });
      for (const loc of res.locations) this.update(loc);
    })().catch((err: unknown) => {
      this.registering = undefined; // let the next push try again
      throw err;
    });
    return this.registering;
  }

  location(partitionId: number): PartitionLocation {
    const loc = this.locations[partitionId];
    if (loc === undefined) throw new BraidError(ErrorCodes.UNKNOWN_LOCATION, `shuffle ${this.shuffleId} has no location for partition ${partitionId}`);
    return loc;
  }

  /** Keeps the newest epoch of each partition. */
  private update(loc: PartitionLocation): void {
    const cur = this.locations[loc.partitionId];
    if (cur === undefined || cur.epoch < loc.epoch) this.locations[loc.partitionId] = loc;
  }

  /**
   * After a SOFT_SPLIT the batch was kept; later pushes should go to a new
   * epoch. Nobody waits for the answer, so one ask per (partition, epoch) is enough.
   */
  moveOn(partitionId: number, epoch: number, mapId: number, attemptId: number, cause: number): void {
    const key = `${partitionId}/${epoch}`;
    if (this.softSplits.has(key)) return;
    this.softSplits.add(key);
    void this.revive(partitionId, epoch, mapId, attemptId, cause).finally(() => this.softSplits.delete(key));
  }

  /** Asks for a newer location than `epoch` of `partitionId`, on behalf of one map attempt. */
  revive(partitionId: number, epoch: number, mapId: number, attemptId: number, cause: number): Promise<ReviveOutcome> {
    const current = this.locations[partitionId];
    if (current !== undefined && current.epoch > epoch) return Promise.resolve({ status: PushStatus.SUCCESS, location: current });
    return new Promise<ReviveOutcome>((resolve) => {
      this.pendingRevives.push({ partitionId, epoch, mapId, attemptId, cause, resolve });
      if (!this.reviveScheduled) {
        this.reviveScheduled = true;
        setImmediate(() => void this.sendRevives());
      }
    });
  }

  private async sendRevives(): Promise<void> {
    this.reviveScheduled = false;
    const batch = this.pendingRevives;
    this.pendingRevives = [];
    try {
      const conn = await this.lm();
      const res = await conn.call(Revive, {
        shuffleId: this.shuffleId,
        requests: batch.map(({ partitionId, epoch, mapId, attemptId, cause }) => ({ partitionId, epoch, mapId, attemptId, cause })),
      });
      batch.forEach((w, i) => {
        const r = res.results[i];
        if (r !== undefined && r.status === PushStatus.SUCCESS && r.location !== undefined) {
          this.update(r.location);
          w.resolve({ status: PushStatus.SUCCESS, location: r.location });
        } else {
          w.resolve({ status: r?.status ?? PushStatus.FAIL_UNKNOWN_LOCATION, location: undefined });
        }
      });
    } catch {
      for (const w of batch) w.resolve({ status: PushStatus.FAIL_UNKNOWN_LOCATION, location: undefined });
    }
  }
}
