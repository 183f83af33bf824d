import {
  BraidError,
  ErrorCodes,
  Mode,
  addressKey,
  type Address,
  type EpochRef,
  type FileId,
  type MapSum,
  type PartitionLocation,
  type PartitionSum,
  type ReducerFile,
} from '../../protocol/index.js';

/** A promise with its settle functions; `settled` lets late settlers become no-ops. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  settled: boolean;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let res!: (value: T) => void;
  let rej!: (err: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    res = resolve;
    rej = reject;
  });
  // Nobody may be waiting when it fails (e.g. unregister before any reader): not an unhandled rejection.
  promise.catch(() => undefined);
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve(value) {
      if (d.settled) return;
      d.settled = true;
      res(value);
    },
    reject(err) {
      if (d.settled) return;
      d.settled = true;
      rej(err);
    },
  };
  return d;
}

/** One partition of a committed stage, as reducers see it. */
export interface PartitionResult {
  partitionId: number;
  /** Every committed copy of every epoch, ordered by epoch, primary first. */
  files: ReducerFile[];
  /** What the winning attempts reported at MapperEnd for this partition (maps with batches > 0). */
  expected: MapSum[];
  /** Some epoch has neither its primary nor its replica committed. */
  lost: boolean;
}

/** The outcome of a stage end: winning attempts and the committed files of every partition. */
export interface StageResult {
  shuffleId: number;
  /** Winning attempt of each map, -1 for none. */
  mapAttempts: number[];
  partitions: PartitionResult[];
}

/**
 * The map side of one stage attempt: which attempt of each map won, what it
 * reported, and the commit that follows the last map end. A stage retry
 * replaces it with a fresh one, so waiters of the old commit keep its result.
 */
export class MapOutputs {
  /** Winning attempt per map, -1 while the map has not ended. */
  readonly winners: Int32Array;
  readonly sums: (PartitionSum[] | undefined)[];
  /** Per map, the epochs its winner's batches landed in (undefined: not reported, so any epoch may hold them). */
  readonly epochs: (readonly EpochRef[] | undefined)[];
  ended = 0;
  /** Settles once every map has ended and the files are committed. */
  readonly result = deferred<StageResult>();

  constructor(readonly numMappers: number) {
    this.winners = new Int32Array(numMappers).fill(-1);
    this.sums = new Array<PartitionSum[] | undefined>(numMappers);
    this.epochs = new Array<readonly EpochRef[] | undefined>(numMappers);
  }

  get allEnded(): boolean {
    return this.ended === this.numMappers;
  }

  /** Records a map end (validated by the caller). The first attempt of a map to end wins; the winner may repeat its end (a retried RPC). */
  record(mapId: number, attemptId: number, partitions: PartitionSum[], epochs?: readonly EpochRef[]): MapperEndOutcome {
    const current = this.winners[mapId]!;
    if (current !== -1) return { winner: current === attemptId, allMappersEnded: this.allEnded, stageEnded: false };
    this.winners[mapId] = attemptId;
    this.sums[mapId] = partitions;
    this.epochs[mapId] = epochs !== undefined && epochs.length > 0 ? epochs : undefined;
    this.ended++;
    return { winner: true, allMappersEnded: this.allEnded, stageEnded: this.allEnded };
  }
}

export interface MapperEndOutcome {
  winner: boolean;
  allMappersEnded: boolean;
  /** This call ended the stage: the caller starts the commit. */
  stageEnded: boolean;
}

/** Where a partition's data is: epochs that acknowledged a winner's batches. */
export interface PartitionData {
  readonly epochs: Set<number>;
  /** Some winner pushed here without saying to which epochs: every epoch may hold data. */
  anyEpoch: boolean;
}

/** Where one epoch of a partition holds winners' data. */
export function holdsData(data: PartitionData | undefined, epoch: number): boolean {
  return data !== undefined && (data.anyEpoch || data.epochs.has(epoch));
}

/** Files of one shuffle on one worker. */
export interface WorkerFiles {
  address: Address;
  files: FileId[];
}

/**
 * Everything the LifecycleManager knows about one shuffle: the locations of
 * every epoch of every partition (all are kept: readers read them all and
 * commit covers them all) and the map outputs of the current stage attempt.
 */
export class ShuffleState {
  /** locations[partitionId][epoch]; epochs are dense from 0. Empty until registration completes. */
  private readonly locations: PartitionLocation[][];
  outputs: MapOutputs;
  /** Stage attempts seen so far (0 for the first run of the map stage). */
  stageRetries = 0;
  /**
   * Per partition, the first epoch of the current stage attempt. Epochs below
   * it were committed by an earlier attempt and hold only that attempt's
   * maps, which readers drop: they are neither read nor judged lost.
   */
  private readonly firstLiveEpoch: number[];
  /** `${mapId}/${attemptId}` of the winners of earlier stage attempts: a re-run must use new attempt ids. */
  private readonly formerWinners = new Set<string>();
  /** Set once unregistered: late completions must not touch workers' state through it. */
  removed = false;
  /** Revives in flight, by `${partitionId}/${oldEpoch}`: concurrent requests share one new epoch. */
  readonly reviving = new Map<string, Promise<PartitionLocation>>();
  /** Settles when the first allocation is reserved. */
  ready: Promise<void> = Promise.resolve();

  /** `outputs`: map ends recorded before the shuffle was registered (maps that pushed nothing). */
  constructor(
    readonly shuffleId: number,
    readonly numMappers: number,
    readonly numPartitions: number,
    outputs = new MapOutputs(numMappers),
  ) {
    this.locations = Array.from({ length: numPartitions }, () => []);
    this.firstLiveEpoch = new Array<number>(numPartitions).fill(0);
    this.outputs = outputs;
  }

  /** The epochs a reader of the current stage attempt needs. */
  liveEpochsOf(partitionId: number): readonly PartitionLocation[] {
    return this.epochsOf(partitionId).filter((l) => l.epoch >= this.firstLiveEpoch[partitionId]!);
  }

  get registered(): boolean {
    return this.numPartitions === 0 || this.locations[0]!.length > 0;
  }

  /** The newest epoch of a partition. */
  current(partitionId: number): PartitionLocation | undefined {
    const epochs = this.locations[partitionId];
    return epochs === undefined ? undefined : epochs[epochs.length - 1];
  }

  currentLocations(): PartitionLocation[] {
    return this.locations.map((epochs) => epochs[epochs.length - 1]!);
  }

  epochsOf(partitionId: number): readonly PartitionLocation[] {
    return this.locations[partitionId] ?? [];
  }

  /** Adds the next epoch of a partition; epochs only ever grow by one. */
  addEpoch(loc: PartitionLocation): void {
    const epochs = this.locations[loc.partitionId];
    if (epochs === undefined || loc.epoch !== epochs.length) {
      throw new BraidError(ErrorCodes.INTERNAL, `epoch ${loc.epoch} of partition ${loc.partitionId} is out of order`);
    }
    epochs.push(loc);
  }

  /** Every file of the shuffle, grouped by the worker that holds it. */
  filesByWorker(): Map<string, WorkerFiles> {
    return groupFilesByWorker(this.locations.flat());
  }

  /** Records a map end. The first attempt of a map to end wins; the winner may repeat its end (a retried RPC). */
  recordMapperEnd(mapId: number, attemptId: number, partitions: PartitionSum[], epochs?: readonly EpochRef[]): MapperEndOutcome {
    if (!Number.isInteger(mapId) || mapId < 0 || mapId >= this.numMappers) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `mapId ${mapId} is out of range for shuffle ${this.shuffleId} with ${this.numMappers} mappers`);
    }
    // Workers answer MAP_ENDED to a committed winner's pushes, so a re-run reusing its attempt id
    // would have had its data dropped: refuse it loudly rather than record an empty output.
    if (this.formerWinners.has(`${mapId}/${attemptId}`)) {
      throw new BraidError(
        ErrorCodes.INVALID_REQUEST,
        `map ${mapId} attempt ${attemptId} already won an earlier stage attempt of shuffle ${this.shuffleId}: a re-run needs a new attempt id`,
      );
    }
    for (const p of [...partitions, ...(epochs ?? [])]) {
      if (p.partitionId >= this.numPartitions) {
        throw new BraidError(
          ErrorCodes.INVALID_REQUEST,
          `partition ${p.partitionId} is out of range for shuffle ${this.shuffleId} with ${this.numPartitions} partitions`,
        );
      }
    }
    return this.outputs.record(mapId, attemptId, partitions, epochs);
  }

  /** True when `mapId` already has a winning attempt in the current stage attempt. */
  mapEnded(mapId: number): boolean {
    return (this.outputs.winners[mapId] ?? -1) !== -1;
  }

  /**
   * Starts a new stage attempt of the map side: map ends are forgotten and a
   * new commit will follow. Locations stay; committed epochs refuse new
   * pushes, so writers revive to fresh epochs.
   */
  resetForStageRetry(): MapOutputs {
    const old = this.outputs;
    old.winners.forEach((attempt, mapId) => {
      if (attempt >= 0) this.formerWinners.add(`${mapId}/${attempt}`);
    });
    this.outputs = new MapOutputs(this.numMappers);
    // Every epoch so far was committed (or lost) with the old attempt: re-run maps revive past them.
    for (let p = 0; p < this.numPartitions; p++) this.firstLiveEpoch[p] = this.epochsOf(p).length;
    this.stageRetries++;
    return old;
  }

  /**
   * Per partition, the epochs that hold data of a winner of `outputs`: only
   * these are lost when no copy of them commits. `anyEpoch` when a winner
   * pushed to the partition without saying where.
   */
  dataEpochs(outputs: MapOutputs): PartitionData[] {
    const data: PartitionData[] = Array.from({ length: this.numPartitions }, () => ({ epochs: new Set<number>(), anyEpoch: false }));
    for (let mapId = 0; mapId < outputs.numMappers; mapId++) {
      const sums = outputs.sums[mapId];
      const epochs = outputs.epochs[mapId];
      for (const e of epochs ?? []) data[e.partitionId]?.epochs.add(e.epoch);
      if (sums === undefined) continue;
      for (const s of sums) {
        const d = data[s.partitionId];
        if (d !== undefined && s.batches > 0 && (epochs === undefined || !epochs.some((e) => e.partitionId === s.partitionId))) d.anyEpoch = true;
      }
    }
    return data;
  }

  /** Per partition, what the winners of `outputs` reported (maps with batches > 0), by map id. */
  expectedSums(outputs: MapOutputs): MapSum[][] {
    const expected: MapSum[][] = Array.from({ length: this.numPartitions }, () => []);
    for (let mapId = 0; mapId < outputs.numMappers; mapId++) {
      const sums = outputs.sums[mapId];
      if (sums === undefined) continue;
      // A map may report a partition in several entries; crc is a sum mod 2^32, so entries add up.
      const merged = new Map<number, MapSum>();
      for (const s of sums) {
        const m = merged.get(s.partitionId);
        if (m === undefined) merged.set(s.partitionId, { mapId, batches: s.batches, bytes: s.bytes, crc: s.crc >>> 0 });
        else {
          m.batches += s.batches;
          m.bytes += s.bytes;
          m.crc = (m.crc + s.crc) >>> 0;
        }
      }
      for (const [partitionId, m] of merged) if (m.batches > 0) expected[partitionId]!.push(m);
    }
    return expected;
  }
}

/**
 * Groups the copies of `locations` by the worker that holds them, each
 * described by `describe(location, mode, peer)`; a copy's peer is the other copy.
 */
export function groupByWorker<F>(
  locations: readonly PartitionLocation[],
  describe: (loc: PartitionLocation, mode: Mode, peer: Address | undefined) => F,
): Map<string, { address: Address; files: F[] }> {
  const byWorker = new Map<string, { address: Address; files: F[] }>();
  const add = (address: Address, file: F) => {
    const key = addressKey(address);
    let entry = byWorker.get(key);
    if (entry === undefined) byWorker.set(key, (entry = { address, files: [] }));
    entry.files.push(file);
  };
  for (const loc of locations) {
    add(loc.primary, describe(loc, Mode.Primary, loc.replica));
    if (loc.replica !== undefined) add(loc.replica, describe(loc, Mode.Replica, loc.primary));
  }
  return byWorker;
}

/** Groups the files of `locations` (primary and replica copies) by the worker that holds them. */
export function groupFilesByWorker(locations: readonly PartitionLocation[]): Map<string, WorkerFiles> {
  return groupByWorker(locations, (loc, mode) => ({ partitionId: loc.partitionId, epoch: loc.epoch, mode }));
}
