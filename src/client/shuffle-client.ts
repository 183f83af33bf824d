import { Readable } from 'node:stream';
import {
  ALL_MAPS,
  BraidError,
  ErrorCodes,
  GetReducerFileGroup,
  MapperEnd,
  Role,
  addressKey,
  writeBatchHeader,
  payloadCrc,
  BATCH_HEADER_SIZE,
  type PartitionLocation,
} from '../protocol/index.js';
import { ConnectionPool, clientLiveness, type Connection } from '../transport/index.js';
import { CODEC_IDS, assembleBatch } from './compression/codecs.js';
import { createCompressor, type Compressor } from './compression/compressor.js';
import { ShuffleLocations } from './locations.js';
import { resolveClientOptions, type ResolvedClientOptions, type ShuffleClientOptions } from './options.js';
import { AttemptTracker } from './push/attempt-tracker.js';
import { Pusher, type OutgoingBatch } from './push/pusher.js';
import { readPartitionBatches } from './read/partition-reader.js';

export interface MapperEndResult {
  /** True when this attempt is the map's winner (the first attempt to end). */
  winner: boolean;
  allMappersEnded: boolean;
}

/**
 * The largest batch one call may push. A chunk holds at least chunkSize
 * (≤ 32 MiB) plus up to one batch, and a frame is at most 64 MiB.
 */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/** The worker pair of a location, formatted once per location (merge buffers are keyed by it per batch). */
const pairKeys = new WeakMap<PartitionLocation, string>();
function pairKey(loc: PartitionLocation): string {
  let key = pairKeys.get(loc);
  if (key === undefined) pairKeys.set(loc, (key = `${addressKey(loc.primary)}|${loc.replica ? addressKey(loc.replica) : ''}`));
  return key;
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) throw new BraidError(ErrorCodes.INVALID_REQUEST, `${name} ${v} is not a u32`);
}

interface MergeBuffer {
  target: PartitionLocation['primary'];
  batches: OutgoingBatch[];
  bytes: number;
}

/**
 * The client of a task process: pushes a map attempt's records to workers
 * and reads partitions back, exactly once. One per process.
 */
export class ShuffleClient {
  private readonly pool: ConnectionPool;
  private readonly shuffles = new Map<number, ShuffleLocations>();
  private readonly attempts = new Map<string, AttemptTracker>();
  /** Per map attempt, per primary/replica pair: batches waiting to be merged. */
  private readonly merges = new Map<AttemptTracker, Map<string, MergeBuffer>>();
  private readonly pusher: Pusher;
  private readonly compressor: Compressor;
  private readonly codec: (typeof CODEC_IDS)[keyof typeof CODEC_IDS];
  private lmConn: Promise<Connection> | undefined;

  private constructor(readonly options: ResolvedClientOptions) {
    this.pool = new ConnectionPool({
      role: Role.Client,
      appId: options.appId,
      key: options.authToken,
      tls: options.tls,
      deadPeerBackoffMs: options.deadPeerBackoffMs,
      ...clientLiveness(options),
    });
    this.codec = CODEC_IDS[options.compression];
    this.compressor = createCompressor(this.codec, options.compressionMode, options.zstdLevel);
    this.pusher = new Pusher(this.pool, options, (id) => this.locations(id));
  }

  static async connect(options: ShuffleClientOptions): Promise<ShuffleClient> {
    const client = new ShuffleClient(resolveClientOptions(options));
    await client.lm();
    return client;
  }

  private lm(): Promise<Connection> {
    const cached = this.lmConn;
    if (cached) return cached;
    // The application's own coordinator: there is nowhere else to go, so it is never failed fast.
    const opening = this.pool.get(this.options.lifecycleManager, { evenIfSuspect: true });
    this.lmConn = opening;
    opening.then(
      (c) => c.once('close', () => (this.lmConn = undefined)),
      () => (this.lmConn = undefined),
    );
    return opening;
  }

  private locations(shuffleId: number): ShuffleLocations {
    let s = this.shuffles.get(shuffleId);
    if (s === undefined) this.shuffles.set(shuffleId, (s = new ShuffleLocations(shuffleId, () => this.lm())));
    return s;
  }

  private tracker(shuffleId: number, mapId: number, attemptId: number): AttemptTracker {
    const key = `${shuffleId}/${mapId}/${attemptId}`;
    let t = this.attempts.get(key);
    if (t === undefined) this.attempts.set(key, (t = new AttemptTracker(shuffleId, mapId, attemptId)));
    return t;
  }

  /** Compresses `data[offset, offset+length)` into one batch for `partitionId`. */
  private async prepare(
    shuffleId: number,
    mapId: number,
    attemptId: number,
    partitionId: number,
    data: Uint8Array,
    offset: number,
    length: number,
    numMappers: number,
    numPartitions: number,
  ): Promise<OutgoingBatch | undefined> {
    if (partitionId < 0 || partitionId >= numPartitions || !Number.isInteger(partitionId)) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `partition ${partitionId} is outside [0, ${numPartitions})`);
    }
    if (offset < 0 || length < 0 || offset + length > data.length) throw new BraidError(ErrorCodes.INVALID_REQUEST, `range [${offset}, ${offset + length}) is outside the data`);
    if (length > MAX_BATCH_BYTES) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `a batch of ${length} bytes is over the ${MAX_BATCH_BYTES}-byte limit: push large data in several calls`);
    }
    checkU32('shuffleId', shuffleId);
    checkU32('mapId', mapId);
    checkU32('attemptId', attemptId);
    const shuffle = this.locations(shuffleId);
    await shuffle.ensureRegistered(numMappers, numPartitions);
    const tracker = this.tracker(shuffleId, mapId, attemptId);
    if (tracker.mapEnded) return undefined;
    const location = shuffle.location(partitionId);
    const raw = Buffer.from(data.buffer, data.byteOffset + offset, length);
    const compressed = await this.compressor.compress(raw);
    const batch = assembleBatch(this.codec, length, compressed);
    // Recorded last: from here the batch must be settled (acknowledged, dropped or failed), or mapperEnd would wait for it.
    const batchId = tracker.record(partitionId, length, payloadCrc(batch.subarray(BATCH_HEADER_SIZE)));
    writeBatchHeader(batch, 0, { mapId, attemptId, batchId, length: batch.length - 16 });
    return { tracker, partitionId, batch, location, retries: 0, splits: 0 };
  }

  /**
   * Pushes one batch as its own PushData. Resolves when the request is on its
   * way (waiting while too many are in flight); acknowledgement, splits and
   * retries are handled in the background and settled by mapperEnd.
   */
  async pushData(
    shuffleId: number,
    mapId: number,
    attemptId: number,
    partitionId: number,
    data: Uint8Array,
    offset = 0,
    length = data.length - offset,
    numMappers: number,
    numPartitions: number,
  ): Promise<number> {
    const b = await this.prepare(shuffleId, mapId, attemptId, partitionId, data, offset, length, numMappers, numPartitions);
    if (b === undefined) return 0;
    await this.pusher.send(b.location.primary, [b]);
    return b.batch.length;
  }

  /**
   * Adds one batch to the merge buffer of its worker pair; a buffer is sent
   * as one PushMergedData once it holds mergeBufferSize bytes. A batch that
   * alone reaches that size is sent as PushData.
   */
  async mergeData(
    shuffleId: number,
    mapId: number,
    attemptId: number,
    partitionId: number,
    data: Uint8Array,
    offset = 0,
    length = data.length - offset,
    numMappers: number,
    numPartitions: number,
  ): Promise<number> {
    const b = await this.prepare(shuffleId, mapId, attemptId, partitionId, data, offset, length, numMappers, numPartitions);
    if (b === undefined) return 0;
    if (b.batch.length >= this.options.mergeBufferSize) {
      await this.pusher.send(b.location.primary, [b]);
      return b.batch.length;
    }
    let buffers = this.merges.get(b.tracker);
    if (buffers === undefined) this.merges.set(b.tracker, (buffers = new Map()));
    const key = pairKey(b.location);
    let m = buffers.get(key);
    if (m === undefined) buffers.set(key, (m = { target: b.location.primary, batches: [], bytes: 0 }));
    m.batches.push(b);
    m.bytes += b.batch.length;
    if (m.bytes >= this.options.mergeBufferSize) {
      buffers.delete(key);
      await this.pusher.send(m.target, m.batches);
    }
    return b.batch.length;
  }

  /** Sends every merge buffer of a map attempt. */
  async pushMergedData(shuffleId: number, mapId: number, attemptId: number): Promise<void> {
    const tracker = this.attempts.get(`${shuffleId}/${mapId}/${attemptId}`);
    const buffers = tracker && this.merges.get(tracker);
    if (buffers === undefined || tracker === undefined) return;
    this.merges.delete(tracker);
    for (const m of buffers.values()) await this.pusher.send(m.target, m.batches);
  }

  /**
   * Ends a map attempt: flushes its merge buffers, waits until every push is
   * acknowledged (or failed for good), then reports the per-partition sums.
   */
  async mapperEnd(shuffleId: number, mapId: number, attemptId: number, numMappers: number): Promise<MapperEndResult> {
    await this.pushMergedData(shuffleId, mapId, attemptId);
    const key = `${shuffleId}/${mapId}/${attemptId}`;
    const tracker = this.attempts.get(key) ?? this.tracker(shuffleId, mapId, attemptId);
    await tracker.drained();
    if (tracker.failure) {
      this.attempts.delete(key);
      throw tracker.failure;
    }
    const lm = await this.lm();
    const [partitions, epochs] = tracker.mapEnded ? [[], []] : [tracker.partitionSums(), tracker.epochs()];
    const res = await lm.call(MapperEnd, { shuffleId, mapId, attemptId, numMappers, partitions, epochs });
    // Forgotten only once reported: a retried mapperEnd after a lost answer must report the same sums.
    this.attempts.delete(key);
    return res;
  }

  /**
   * Reads a partition: one Buffer per batch pushed by the winning attempts of
   * the maps in [startMapIndex, endMapIndex), decompressed, exactly once.
   * Waits until the shuffle's stage has ended.
   */
  async *readPartition(
    shuffleId: number,
    partitionId: number,
    startMapIndex = 0,
    endMapIndex = ALL_MAPS,
    options: { stageAttemptId?: number } = {},
  ): AsyncGenerator<Buffer> {
    const lm = await this.lm();
    // Longer than the LifecycleManager's own wait for the stage end, so its STAGE_NOT_ENDED answer arrives first.
    const res = await lm.call(GetReducerFileGroup, { shuffleId, startPartition: partitionId, endPartition: partitionId + 1 }, this.options.fetchTimeoutMs + 30_000);
    const group = res.partitions.find((p) => p.partitionId === partitionId);
    if (group === undefined) return;
    yield* readPartitionBatches(
      {
        appId: this.options.appId,
        pool: this.pool,
        lm: () => this.lm(),
        fetchAhead: this.options.fetchAhead,
        fetchTimeoutMs: this.options.fetchTimeoutMs,
        stageAttemptId: options.stageAttemptId ?? this.options.stageAttemptId,
      },
      { shuffleId, partitionId, startMapIndex, endMapIndex, group, mapAttempts: res.mapAttempts },
    );
  }

  /** The same records as readPartition, as a Node Readable (object mode, one Buffer per batch). */
  readPartitionStream(shuffleId: number, partitionId: number, startMapIndex = 0, endMapIndex = ALL_MAPS): Readable {
    return Readable.from(this.readPartition(shuffleId, partitionId, startMapIndex, endMapIndex), { objectMode: true });
  }

  /**
   * Forgets a map attempt that will not end (its task failed): its merge
   * buffers are dropped and nothing of it is reported. Pushes already sent
   * stay on the workers; readers drop them, as they are no winner's.
   */
  abortAttempt(shuffleId: number, mapId: number, attemptId: number): void {
    const key = `${shuffleId}/${mapId}/${attemptId}`;
    const tracker = this.attempts.get(key);
    if (tracker === undefined) return;
    this.attempts.delete(key);
    this.merges.delete(tracker);
  }

  /** Forgets everything this process knows of a shuffle (after it was unregistered). */
  forgetShuffle(shuffleId: number): void {
    this.shuffles.delete(shuffleId);
    for (const [key, tracker] of this.attempts) {
      if (tracker.shuffleId !== shuffleId) continue;
      this.attempts.delete(key);
      this.merges.delete(tracker);
    }
  }

  /** Push requests currently in flight (for tests and metrics). */
  get pushesInFlight(): number {
    return this.pusher.inFlight;
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.compressor.close();
  }
}
