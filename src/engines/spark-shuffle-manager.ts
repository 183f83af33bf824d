/**
 * A Spark-style shuffle manager over Braid. The driver side registers and
 * unregisters shuffles and owns the LifecycleManager; the executor side hands
 * out a writer per map attempt and a reader per reduce task. A reader that
 * cannot fetch a partition reports it (with the stage attempt) and throws
 * FetchFailedError; once a stage attempt has `maxFetchFailures` failures, the
 * LifecycleManager calls the engine's `unregisterAllMapOutput(shuffleId)` so
 * the engine re-runs the whole map stage.
 */
import { LifecycleManager, type LifecycleManagerOptions } from '../client/lifecycle/index.js';
import type { ShuffleClientOptions } from '../client/options.js';
import { ShuffleClient, type MapperEndResult } from '../client/shuffle-client.js';
import { ALL_MAPS, BraidError, ErrorCodes, addressKey, isBraidError, type Address } from '../protocol/index.js';

/** What the engine's scheduler must provide. */
export interface SparkEngine {
  /** Forget every map output of the shuffle: the map stage will run again. */
  unregisterAllMapOutput(shuffleId: number): void;
}

/** Serializable description of a registered shuffle, shipped to executors. */
export interface ShuffleHandle {
  appId: string;
  shuffleId: number;
  numMappers: number;
  numPartitions: number;
  lifecycleManager: string;
}

/** Reader errors that mean the map outputs are unreadable, missing or corrupt: the map stage may have to run again. */
const FETCH_FAILURES = [ErrorCodes.FETCH_FAILED, ErrorCodes.DATA_LOST, ErrorCodes.CHECKSUM_MISMATCH] as const;

/** Raised by readers when a partition could not be read; the engine decides about a stage retry. */
export class FetchFailedError extends BraidError {
  constructor(
    readonly shuffleId: number,
    readonly partitionId: number,
    readonly stageAttemptId: number,
    cause: BraidError,
  ) {
    super(ErrorCodes.FETCH_FAILED, `fetch of shuffle ${shuffleId} partition ${partitionId} failed in stage attempt ${stageAttemptId}: ${cause.message}`, {
      cause,
      retriable: false,
    });
    this.name = 'FetchFailedError';
  }
}

export class SparkShuffleManager {
  private readonly handles = new Map<number, ShuffleHandle>();

  private constructor(readonly lifecycleManager: LifecycleManager) {}

  /** Starts the driver side. */
  static async start(options: Omit<LifecycleManagerOptions, 'onUnregisterAllMapOutput'> & { engine: SparkEngine }): Promise<SparkShuffleManager> {
    const { engine, ...lmOptions } = options;
    const lm = await LifecycleManager.start({ ...lmOptions, onUnregisterAllMapOutput: (id) => engine.unregisterAllMapOutput(id) });
    return new SparkShuffleManager(lm);
  }

  /** Registration is lazy in Braid (first push); this only describes the shuffle for executors. */
  registerShuffle(shuffleId: number, numMappers: number, numPartitions: number): ShuffleHandle {
    const handle = { appId: this.lifecycleManager.appId, shuffleId, numMappers, numPartitions, lifecycleManager: addressKey(this.lifecycleManager.address) };
    this.handles.set(shuffleId, handle);
    return handle;
  }

  async unregisterShuffle(shuffleId: number): Promise<void> {
    this.handles.delete(shuffleId);
    await this.lifecycleManager.unregisterShuffle(shuffleId);
  }

  close(): Promise<void> {
    return this.lifecycleManager.close();
  }
}

const ATTEMPT_BITS = 16;
const ATTEMPT_LIMIT = 2 ** ATTEMPT_BITS;

/**
 * The Braid attempt id of a Spark task attempt: the stage attempt in the
 * high 16 bits, the task's attempt number within it in the low 16, so
 * attempts of different stage attempts never share an id.
 */
export function braidAttemptId(stageAttemptId: number, attemptNumber: number): number {
  for (const [name, v] of [
    ['stageAttemptId', stageAttemptId],
    ['attemptNumber', attemptNumber],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v >= ATTEMPT_LIMIT) throw new BraidError(ErrorCodes.INVALID_REQUEST, `${name} must be an integer in [0, ${ATTEMPT_LIMIT}), got ${v}`);
  }
  return stageAttemptId * ATTEMPT_LIMIT + attemptNumber;
}

/** One map attempt's output: records go to partitions, close() ends the attempt. */
export interface ShuffleWriter {
  write(partitionId: number, records: Uint8Array): Promise<void>;
  close(): Promise<MapperEndResult>;
  /** The task failed: forget this attempt (what it pushed is never read). */
  abort(): void;
}

/** The executor side: one per executor process, holding one ShuffleClient. */
export class SparkShuffleExecutor {
  private constructor(private readonly client: ShuffleClient) {}

  static async connect(appId: string, lifecycleManager: Address | string, options: Omit<ShuffleClientOptions, 'appId' | 'lifecycleManager'> = {}): Promise<SparkShuffleExecutor> {
    return new SparkShuffleExecutor(await ShuffleClient.connect({ ...options, appId, lifecycleManager }));
  }

  /**
   * The writer of one map task attempt. Spark numbers task attempts from 0
   * again in every stage attempt, so a re-run of the map stage would reuse
   * the ids of the attempts that already won; Braid needs a new attempt id
   * for a re-run, and gets `braidAttemptId(stageAttemptId, attemptNumber)`.
   */
  getWriter(handle: ShuffleHandle, mapId: number, attemptNumber: number, stageAttemptId = 0): ShuffleWriter {
    const { shuffleId, numMappers, numPartitions } = handle;
    const attemptId = braidAttemptId(stageAttemptId, attemptNumber);
    return {
      write: async (partitionId, records) => {
        await this.client.mergeData(shuffleId, mapId, attemptId, partitionId, records, 0, records.length, numMappers, numPartitions);
      },
      close: () => this.client.mapperEnd(shuffleId, mapId, attemptId, numMappers),
      abort: () => this.client.abortAttempt(shuffleId, mapId, attemptId),
    };
  }

  /**
   * Reads partitions [startPartition, endPartition) of the maps in
   * [startMapIndex, endMapIndex), one after another. Failures surface as
   * FetchFailedError (the LifecycleManager has already been told).
   */
  async *getReader(
    handle: ShuffleHandle,
    startPartition: number,
    endPartition: number,
    stageAttemptId: number,
    startMapIndex = 0,
    endMapIndex = ALL_MAPS,
  ): AsyncGenerator<Buffer> {
    for (let p = startPartition; p < endPartition; p++) {
      try {
        yield* this.client.readPartition(handle.shuffleId, p, startMapIndex, endMapIndex, { stageAttemptId });
      } catch (err) {
        if (FETCH_FAILURES.some((code) => isBraidError(err, code))) throw new FetchFailedError(handle.shuffleId, p, stageAttemptId, err as BraidError);
        throw err;
      }
    }
  }

  /** The driver unregistered the shuffle: forget what this executor cached of it. */
  unregisterShuffle(shuffleId: number): void {
    this.client.forgetShuffle(shuffleId);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
