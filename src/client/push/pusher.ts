import { moduleLogger } from '../../log/index.js';
import {
  BraidError,
  ErrorCodes,
  MessageType,
  Mode,
  PushStatus,
  addressKey,
  asBraidError,
  pushStatusName,
  type Address,
  type PartitionLocation,
} from '../../protocol/index.js';
import { unexpectedResponse, type ConnectionPool } from '../../transport/index.js';
import type { ShuffleLocations } from '../locations.js';
import { Semaphore } from '../semaphore.js';
import type { AttemptTracker } from './attempt-tracker.js';

const log = moduleLogger('client');

/** One batch on its way: the whole batch bytes and where it is going. */
export interface OutgoingBatch {
  readonly tracker: AttemptTracker;
  readonly partitionId: number;
  readonly batch: Buffer;
  location: PartitionLocation;
  /** Failed sends so far (bounded by maxPushRetries). */
  retries: number;
  /** HARD_SPLIT answers so far: not failures, but bounded so a bug cannot loop forever. */
  splits: number;
}

const MAX_HARD_SPLITS = 64;

export interface PusherOptions {
  appId: string;
  maxInFlightPerWorker: number;
  maxInFlightTotal: number;
  pushTimeoutMs: number;
  maxPushRetries: number;
}

/**
 * Sends batches to primaries with a bounded number of requests in flight per
 * worker and in total: a sender waits for a permit (backpressure), then the
 * acknowledgement is handled in the background. Per batch: SUCCESS is done;
 * SOFT_SPLIT is done and moves the partition to a new epoch; HARD_SPLIT and
 * failures revive the partition and send the batch again; MAP_ENDED drops it.
 */
export class Pusher {
  private readonly total: Semaphore;
  private readonly perWorker = new Map<string, Semaphore>();

  constructor(
    private readonly pool: ConnectionPool,
    private readonly options: PusherOptions,
    private readonly locationsOf: (shuffleId: number) => ShuffleLocations,
  ) {
    this.total = new Semaphore(options.maxInFlightTotal);
  }

  get inFlight(): number {
    return this.total.inUse;
  }

  /** Sends batches that all go to the primary `target`; resolves once the request is on its way. */
  async send(target: Address, batches: OutgoingBatch[]): Promise<void> {
    const key = addressKey(target);
    let sem = this.perWorker.get(key);
    if (sem === undefined) this.perWorker.set(key, (sem = new Semaphore(this.options.maxInFlightPerWorker)));
    await sem.acquire();
    await this.total.acquire();
    const worker = sem;
    void this.request(target, batches).then(
      (statuses) => {
        worker.release();
        this.total.release();
        this.onStatuses(batches, statuses);
      },
      (err: unknown) => {
        worker.release();
        this.total.release();
        // Per request: only at debug level (the connection's own death is logged once, as a warning).
        if (log().isLevelEnabled('debug')) log().debug({ worker: key, batches: batches.length, reason: asBraidError(err).message }, 'push failed: reviving its batches');
        this.onStatuses(batches, new Uint8Array(batches.length).fill(PushStatus.FAIL_CONNECTION));
      },
    );
  }

  private async request(target: Address, batches: OutgoingBatch[]): Promise<Uint8Array> {
    const conn = await this.pool.get(target);
    const shuffleKey = `${this.options.appId}-${batches[0]!.tracker.shuffleId}`;
    const first = batches[0]!;
    const res =
      batches.length === 1
        ? await conn.request(
            { type: MessageType.PushData, shuffleKey, partitionId: first.partitionId, epoch: first.location.epoch, mode: Mode.Primary, body: first.batch },
            this.options.pushTimeoutMs,
          )
        : await conn.request(merged(shuffleKey, batches), this.options.pushTimeoutMs);
    if (res.type !== MessageType.PushResponse) throw unexpectedResponse(res, 'push');
    if (res.statuses.length !== batches.length) throw new BraidError(ErrorCodes.PROTOCOL, `push answered ${res.statuses.length} statuses for ${batches.length} batches`);
    return res.statuses;
  }

  private onStatuses(batches: OutgoingBatch[], statuses: Uint8Array): void {
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const status = statuses[i]!;
      switch (status) {
        case PushStatus.SUCCESS:
          b.tracker.landed(b.partitionId, b.location.epoch);
          b.tracker.settle();
          break;
        case PushStatus.SOFT_SPLIT:
          b.tracker.landed(b.partitionId, b.location.epoch);
          b.tracker.settle();
          this.locationsOf(b.tracker.shuffleId).moveOn(b.partitionId, b.location.epoch, b.tracker.mapId, b.tracker.attemptId, status);
          break;
        case PushStatus.MAP_ENDED:
          b.tracker.mapEnded = true;
          b.tracker.settle();
          break;
        default:
          void this.resend(b, status);
      }
    }
  }

  /** Revives the batch's partition and sends it again, up to maxPushRetries times. */
  private async resend(b: OutgoingBatch, cause: number): Promise<void> {
    // The partition moved on (split, or committed under a stage retry): not a failure, resend at once.
    const split = cause === PushStatus.HARD_SPLIT || cause === PushStatus.FAIL_LOCATION_COMMITTED;
    if (split ? b.splits >= MAX_HARD_SPLITS : b.retries >= this.options.maxPushRetries) {
      b.tracker.fail(new BraidError(ErrorCodes.PUSH_FAILED, `push of partition ${b.partitionId} failed after ${b.retries} retries and ${b.splits} splits, last: ${pushStatusName(cause)}`));
      b.tracker.settle();
      return;
    }
    if (split) b.splits++;
    else b.retries++;
    // A failing worker gets a moment before the next try; a split is resent at once.
    if (!split) await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** (b.retries - 1), 1000)));
    const outcome = await this.locationsOf(b.tracker.shuffleId).revive(b.partitionId, b.location.epoch, b.tracker.mapId, b.tracker.attemptId, cause);
    if (outcome.status === PushStatus.MAP_ENDED) {
      b.tracker.mapEnded = true;
      b.tracker.settle();
      return;
    }
    if (outcome.location === undefined) {
      // No new location this time (e.g. no free slots): a failure, so the next try backs off.
      void this.resend(b, outcome.status === PushStatus.SUCCESS ? PushStatus.FAIL_UNKNOWN_LOCATION : outcome.status);
      return;
    }
    b.location = outcome.location;
    await this.send(outcome.location.primary, [b]);
  }
}

function merged(shuffleKey: string, batches: OutgoingBatch[]) {
  const offsets = new Array<number>(batches.length);
  let at = 0;
  for (let i = 0; i < batches.length; i++) {
    offsets[i] = at;
    at += batches[i]!.batch.length;
  }
  return {
    type: MessageType.PushMergedData,
    shuffleKey,
    mode: Mode.Primary,
    partitionIds: batches.map((b) => b.partitionId),
    epochs: batches.map((b) => b.location.epoch),
    offsets,
    body: Buffer.concat(batches.map((b) => b.batch), at), // copy: the batches become one frame body
  } as const;
}
