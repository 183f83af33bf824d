import { BraidError, type EpochRef, type PartitionSum } from '../../protocol/index.js';

/**
 * What one map attempt has pushed: batch ids, per-partition sums for
 * MapperEnd, and the count of batches not yet acknowledged, so mapperEnd can
 * wait until every push is settled.
 */
export class AttemptTracker {
  private nextBatchId = 0;
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private readonly sums = new Map<number, PartitionSum>();
  /** `${partitionId}/${epoch}` of every epoch that acknowledged a batch of this attempt. */
  private readonly landedIn = new Map<string, EpochRef>();
  /** The first push failure that exhausted its retries; mapperEnd reports it. */
  failure: BraidError | undefined;
  /** The worker said another attempt of this map already won: further pushes are dropped. */
  mapEnded = false;

  constructor(
    readonly shuffleId: number,
    readonly mapId: number,
    readonly attemptId: number,
  ) {}

  /**
   * Records a new batch for a partition and returns its batch id: its raw
   * (uncompressed) length, and the CRC32 of its payload as pushed, which the
   * reader verifies anyway (no extra pass over the data on either side).
   */
  record(partitionId: number, rawLength: number, payloadCrc: number): number {
    let s = this.sums.get(partitionId);
    if (s === undefined) this.sums.set(partitionId, (s = { partitionId, batches: 0, bytes: 0, crc: 0 }));
    s.batches++;
    s.bytes += rawLength;
    s.crc = (s.crc + payloadCrc) >>> 0;
    this.outstanding++;
    return this.nextBatchId++;
  }

  /** A batch of `partitionId` was acknowledged by `epoch` (kept there for good). */
  landed(partitionId: number, epoch: number): void {
    const key = `${partitionId}/${epoch}`;
    if (!this.landedIn.has(key)) this.landedIn.set(key, { partitionId, epoch });
  }

  /** One batch is settled (kept, dropped, or failed for good). */
  settle(): void {
    if (--this.outstanding === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  fail(err: BraidError): void {
    this.failure ??= err;
  }

  drained(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  partitionSums(): PartitionSum[] {
    return [...this.sums.values()];
  }

  /** Every (partition, epoch) that holds an acknowledged batch of this attempt. */
  epochs(): EpochRef[] {
    return [...this.landedIn.values()];
  }
}
