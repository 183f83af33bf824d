import {
  ApplicationHeartbeat,
  BraidError,
  ErrorCodes,
  FetchFailureStatus,
  MessageType,
  ProtocolError,
  PushStatus,
  Role,
  UnregisterShuffle,
  addressKey,
  asBraidError,
  messageName,
  type Address,
  type EpochRef,
  type PartitionGroup,
  type PartitionLocation,
  type PartitionSum,
} from '../../protocol/index.js';
import { masterForNetwork } from '../../ha/master-addresses.js';
import { MasterClient } from '../../ha/master-client.js';
import { Episode, componentLogger, type Logger } from '../../log/index.js';
import {
  ConnectionPool,
  TransportServer,
  advertisedHost,
  applicationAuth,
  clientLiveness,
  isLoopback,
  localAddressTowards,
  serverLiveness,
} from '../../transport/index.js';
import { Committer } from './committer.js';
import { EarlyMapEnds } from './early-map-ends.js';
import { FetchFailureTracker, type FetchFailureAnswer, type FetchFailureReport } from './fetch-failure-tracker.js';
import { resolveLifecycleOptions, type LifecycleManagerOptions, type ResolvedLifecycleManagerOptions } from './options.js';
import { Reviver, type ReviveRequest, type ReviveResult } from './reviver.js';
import { lifecycleRouter } from './rpc-service.js';
import { ShuffleState, type MapOutputs, type StageResult } from './shuffle-state.js';
import { SlotReserver } from './slot-reserver.js';


const U32_MAX = 0xffff_ffff;
/** While the master does not answer, the warning is repeated at most this often. */
const MASTER_WARN_EVERY_MS = 30_000;

export interface MapperEndRequest {
  shuffleId: number;
  mapId: number;
  attemptId: number;
  numMappers: number;
  partitions: PartitionSum[];
  /** Where the attempt's acknowledged batches landed; without it any epoch of a partition it pushed to may hold them. */
  epochs?: EpochRef[];
}

export interface MapperEndResponse {
  winner: boolean;
  allMappersEnded: boolean;
}

export interface ReducerFileGroup {
  mapAttempts: number[];
  partitions: PartitionGroup[];
}

function requireU32(name: string, value: number, min = 0): void {
  if (!Number.isInteger(value) || value < min || value > U32_MAX) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `${name} must be an integer between ${min} and ${U32_MAX}, got ${value}`);
  }
}

/**
 * The per-application coordinator of shuffles, living in the job's driver:
 * registers shuffles (slots from the master, reservations on workers),
 * revives partitions to new epochs, records map ends, commits at stage end,
 * answers reducers with the committed files, and counts fetch failures.
 * It serves these over its own port and as methods for in-process callers.
 */
export class LifecycleManager {
  readonly appId: string;
  private readonly log: Logger;
  private readonly masterUnreachable: Episode;
  private readonly shuffles = new Map<number, ShuffleState>();
  /** Map ends that came before any push registered their shuffle (maps with no records). */
  private readonly early = new EarlyMapEnds();
  private readonly pool: ConnectionPool;
  /** The master (the leader among them, with high availability). */
  private readonly master: MasterClient;
  private readonly reserver: SlotReserver;
  private readonly reviver: Reviver;
  private readonly committer: Committer;
  private readonly failures: FetchFailureTracker;
  private server: TransportServer | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private closed = false;

  private constructor(private readonly options: ResolvedLifecycleManagerOptions) {
    this.appId = options.appId;
    this.log = componentLogger('lifecycle', { app: options.appId });
    this.masterUnreachable = new Episode(this.log, MASTER_WARN_EVERY_MS);
    const identity = {
      role: Role.LifecycleManager,
      appId: options.appId,
      key: options.authToken,
      tls: options.tls,
      ...clientLiveness(options, options.rpcTimeoutMs),
    };
    // Workers found dead are avoided for a while; masters never are (the MasterClient goes round them).
    this.pool = new ConnectionPool({ ...identity, deadPeerBackoffMs: options.deadPeerBackoffMs });
    this.master = new MasterClient({
      masters: options.masters,
      connect: identity,
      failoverTimeoutMs: options.masterFailoverTimeoutMs,
      log: this.log,
    });
    this.reserver = new SlotReserver(this.master, this.pool, options);
    this.reviver = new Reviver(this.reserver, options.reviveBatchWindowMs);
    this.committer = new Committer(this.pool, options);
    this.failures = new FetchFailureTracker(options.appId, options.maxFetchFailures);
  }

  /** Validates the options, listens, and starts the application heartbeat. */
  static async start(options: LifecycleManagerOptions): Promise<LifecycleManager> {
    const lm = new LifecycleManager(resolveLifecycleOptions(options));
    const router = lifecycleRouter(lm);
    const o = lm.options;
    const network = masterForNetwork(o.masters)!;
    const master = addressKey(network);
    const host = o.host ?? (isLoopback(network.host) ? '127.0.0.1' : await localAddressTowards(network.host));
    const advertiseHost = advertisedHost({ host, advertiseHost: o.advertiseHost, advertiseInterface: o.advertiseInterface }, { role: 'lifecycle manager', master });
    lm.server = await TransportServer.listen({
      host,
      advertiseHost,
      port: lm.options.port,
      connection: serverLiveness(o),
      role: Role.LifecycleManager,
      // Its callers are the application's tasks.
      roles: [Role.Client],
      auth: lm.options.authToken === '' ? undefined : applicationAuth(lm.appId, lm.options.authToken),
      tls: lm.options.tls,
      onRequest(message, conn) {
        if (message.type === MessageType.RpcRequest) router.dispatch(message, conn);
        else conn.close(new ProtocolError(`${messageName(message.type)} is not served by a lifecycle manager`));
      },
    });
    lm.log.info({ listen: `${host}:${lm.address.port}`, advertised: addressKey(lm.address), masters: o.masters.map(addressKey) }, 'lifecycle manager listening');
    lm.heartbeatTimer = setInterval(() => void lm.sendHeartbeat(), lm.options.heartbeatIntervalMs);
    lm.heartbeatTimer.unref();
    void lm.sendHeartbeat();
    return lm;
  }

  /** Where clients reach this manager. */
  get address(): Address {
    if (this.server === undefined) throw new BraidError(ErrorCodes.INTERNAL, 'lifecycle manager is not listening');
    return this.server.address;
  }

  /** Ids of the shuffles registered now. */
  shuffleIds(): number[] {
    return [...this.shuffles.keys()];
  }

  /** Every location of every partition of a shuffle that the current stage attempt uses (all epochs). */
  liveLocations(shuffleId: number): PartitionLocation[] {
    const state = this.shuffles.get(shuffleId);
    if (state === undefined) return [];
    const out: PartitionLocation[] = [];
    for (let p = 0; p < state.numPartitions; p++) out.push(...state.liveEpochsOf(p));
    return out;
  }

  /**
   * Registers a shuffle, or returns the newest location of each partition of
   * an existing one. Concurrent first calls share one allocation.
   */
  async registerShuffle(shuffleId: number, numMappers: number, numPartitions: number): Promise<PartitionLocation[]> {
    this.checkOpen();
    requireU32('shuffleId', shuffleId);
    requireU32('numMappers', numMappers);
    requireU32('numPartitions', numPartitions, 1);
    let state = this.shuffles.get(shuffleId);
    if (state === undefined) {
      state = new ShuffleState(shuffleId, numMappers, numPartitions, this.early.take(shuffleId, numMappers));
      this.shuffles.set(shuffleId, state);
      state.ready = this.allocateFirstEpochs(state);
    } else if (state.numMappers !== numMappers || state.numPartitions !== numPartitions) {
      throw new BraidError(
        ErrorCodes.INVALID_REQUEST,
        `shuffle ${shuffleId} is registered with ${state.numMappers} mappers and ${state.numPartitions} partitions, not ${numMappers} and ${numPartitions}`,
      );
    }
    await state.ready;
    if (state.removed) throw unknownShuffle(shuffleId);
    return state.currentLocations();
  }

  private async allocateFirstEpochs(state: ShuffleState): Promise<void> {
    const targets = Array.from({ length: state.numPartitions }, (_, partitionId) => ({ partitionId, epoch: 0 }));
    let locations: PartitionLocation[];
    try {
      locations = await this.reserver.allocate(state.shuffleId, targets);
    } catch (err) {
      // Forget the failed registration so that a later call tries again, with the map ends recorded so far.
      if (this.shuffles.get(state.shuffleId) === state) {
        this.shuffles.delete(state.shuffleId);
        if (state.outputs.ended > 0) this.early.restore(state.shuffleId, state.outputs);
      }
      state.removed = true;
      throw err;
    }
    if (state.removed) {
      void this.reserver.release(state.shuffleId, locations);
      throw unknownShuffle(state.shuffleId);
    }
    for (const loc of locations) state.addEpoch(loc);
    // A stage without maps has ended as soon as it exists.
    if (state.outputs.allEnded) void this.committer.commit(state, state.outputs);
  }

  /** Moves partitions to new epochs; results in request order. */
  async revive(shuffleId: number, requests: readonly ReviveRequest[]): Promise<ReviveResult[]> {
    this.checkOpen();
    const state = this.shuffles.get(shuffleId);
    if (state === undefined) return requests.map(() => ({ status: PushStatus.FAIL_UNKNOWN_SHUFFLE }));
    try {
      await state.ready;
    } catch {
      return requests.map(() => ({ status: PushStatus.FAIL_UNKNOWN_SHUFFLE }));
    }
    return this.reviver.revive(state, requests);
  }

  /**
   * Records the end of a map attempt; the last map to end starts the commit.
   * A map that pushed nothing may end before any push registered the
   * shuffle: its end is kept until the shuffle registers, and counts.
   */
  async mapperEnd(req: MapperEndRequest): Promise<MapperEndResponse> {
    this.checkOpen();
    requireU32('mapId', req.mapId);
    requireU32('attemptId', req.attemptId);
    requireU32('numMappers', req.numMappers);
    // A registration under way settles first; one that failed is forgotten and leaves the ends it took behind.
    await this.shuffles.get(req.shuffleId)?.ready.catch(() => undefined);
    if (!this.shuffles.has(req.shuffleId)) {
      const early = this.early.record(req.shuffleId, req.mapId, req.attemptId, req.numMappers, req.partitions);
      return { winner: early.winner, allMappersEnded: early.allMappersEnded };
    }
    const state = await this.readyShuffle(req.shuffleId);
    if (req.numMappers !== state.numMappers) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `shuffle ${req.shuffleId} has ${state.numMappers} mappers, MapperEnd says ${req.numMappers}`);
    }
    const outcome = state.recordMapperEnd(req.mapId, req.attemptId, req.partitions, req.epochs);
    if (outcome.stageEnded) {
      this.log.info({ shuffleId: state.shuffleId, maps: state.numMappers }, 'stage ended: every map reported; committing');
      void this.committer.commit(state, state.outputs);
    }
    return { winner: outcome.winner, allMappersEnded: outcome.allMappersEnded };
  }

  /**
   * Waits until the current stage attempt of the shuffle has ended and its
   * files are committed. Fails with STAGE_NOT_ENDED (retriable) after `timeoutMs`.
   */
  async waitForStageEnd(shuffleId: number, timeoutMs = this.options.getReducerFileGroupTimeoutMs): Promise<StageResult> {
    const pending = (await this.currentOutputs(shuffleId)).result.promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BraidError(ErrorCodes.STAGE_NOT_ENDED, `shuffle ${shuffleId}: the map stage has not ended within ${timeoutMs} ms`, { retriable: true }),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([pending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The committed files of partitions [startPartition, endPartition), once the stage has ended. */
  async getReducerFileGroup(shuffleId: number, startPartition: number, endPartition: number): Promise<ReducerFileGroup> {
    this.checkOpen();
    const state = this.shuffles.get(shuffleId);
    // Not registered, but some maps ended with nothing pushed: the partition count is unknown, and so is every range.
    const numPartitions = state?.numPartitions ?? (this.early.get(shuffleId) === undefined ? undefined : U32_MAX);
    if (numPartitions === undefined) throw unknownShuffle(shuffleId);
    if (!Number.isInteger(startPartition) || !Number.isInteger(endPartition) || startPartition < 0 || startPartition > endPartition || endPartition > numPartitions) {
      throw new BraidError(
        ErrorCodes.INVALID_REQUEST,
        `partition range [${startPartition}, ${endPartition}) is not within shuffle ${shuffleId}'s ${numPartitions} partitions`,
      );
    }
    const result = await this.waitForStageEnd(shuffleId);
    // A stage that pushed nothing has no partitions: every partition of the range is empty.
    return { mapAttempts: result.mapAttempts, partitions: result.partitions.slice(startPartition, endPartition) };
  }

  /**
   * Starts a new attempt of the shuffle's map stage: map ends are forgotten,
   * so the re-run maps can win, and the next last map end commits again.
   * Writers of the new attempt find the old epochs committed and revive to
   * new ones; readers keep reading every epoch, filtered by the new winners.
   * Called by the manager itself when fetch failures demand a re-run.
   */
  resetForStageRetry(shuffleId: number): void {
    const state = this.shuffles.get(shuffleId);
    if (state === undefined) throw unknownShuffle(shuffleId);
    const old = state.resetForStageRetry();
    // Waiters of an attempt that never ended are served by the next one.
    if (!old.allEnded) state.outputs.result.promise.then((r) => old.result.resolve(r), (err: unknown) => old.result.reject(err));
    this.log.warn({ shuffleId, stageRetry: state.stageRetries }, 'map stage reset for a re-run');
  }

  /** Forgets the shuffle and deletes its files on the master's and every worker's side (failures ignored). */
  async unregisterShuffle(shuffleId: number): Promise<void> {
    this.checkOpen();
    const state = this.shuffles.get(shuffleId);
    this.shuffles.delete(shuffleId);
    this.failures.forget(shuffleId);
    this.early.forget(shuffleId, unknownShuffle(shuffleId));
    const workers: Address[] = [];
    if (state !== undefined) {
      state.removed = true;
      state.outputs.result.reject(unknownShuffle(shuffleId));
      for (const { address } of state.filesByWorker().values()) workers.push(address);
    }
    const request = { appId: this.appId, shuffleId };
    await Promise.allSettled([
      this.master.call(UnregisterShuffle, request, { timeoutMs: this.options.rpcTimeoutMs }),
      ...workers.map(async (address) => {
        const conn = await this.pool.get(address);
        await conn.call(UnregisterShuffle, request, this.options.rpcTimeoutMs);
      }),
    ]);
  }

  /**
   * Counts a reducer's fetch failure. When a partition reaches
   * maxFetchFailures in the current stage attempt the answer says to re-run
   * the whole map stage; the first time per stage attempt the shuffle is
   * reset for the retry and onUnregisterAllMapOutput is called.
   */
  async reportFetchFailure(req: FetchFailureReport): Promise<FetchFailureAnswer> {
    const state = this.shuffles.get(req.shuffleId);
    if (req.appId === this.appId && state !== undefined && req.partitionId >= state.numPartitions) {
      return {
        status: FetchFailureStatus.INVALID_REQUEST,
        reSubmitWholeStage: false,
        message: `partition ${req.partitionId} is out of range for shuffle ${req.shuffleId} with ${state.numPartitions} partitions`,
      };
    }
    const decision = this.failures.report(req);
    if (decision.firstResubmit) {
      this.log.warn({ shuffleId: req.shuffleId, partitionId: req.partitionId, maxFetchFailures: this.options.maxFetchFailures, reason: req.error }, 'fetch failures reached the limit: the map stage must be re-run');
      if (state !== undefined && !state.removed) this.resetForStageRetry(req.shuffleId);
      try {
        this.options.onUnregisterAllMapOutput?.(req.shuffleId);
      } catch (err) {
        this.log.error({ shuffleId: req.shuffleId, err: asBraidError(err) }, 'onUnregisterAllMapOutput threw');
      }
    }
    return decision.answer;
  }

  /** Stops the heartbeat, fails waiters, closes the server and every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.reviver.close();
    const err = new BraidError(ErrorCodes.SHUTTING_DOWN, 'lifecycle manager is closed');
    for (const state of this.shuffles.values()) state.outputs.result.reject(err);
    this.early.clear(err);
    await this.server?.close();
    await this.master.close();
    await this.pool.close();
  }

  private async sendHeartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.closed) return;
    this.heartbeatInFlight = true;
    try {
      await this.master.call(ApplicationHeartbeat, { appId: this.appId, shuffleIds: this.shuffleIds() }, { timeoutMs: this.options.rpcTimeoutMs });
      this.masterUnreachable.ended({ master: addressKey(this.master.leader) }, 'master reachable again');
    } catch (err) {
      // A heartbeat cut short by close() says nothing about the master.
      if (this.closed) return;
      this.masterUnreachable.failed({ master: addressKey(this.master.leader), reason: asBraidError(err).message }, 'master unreachable: application heartbeats fail (the application expires after the master\'s appTimeout)');
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** The map outputs of the current stage attempt: of the registered shuffle, or of its map ends so far. */
  private async currentOutputs(shuffleId: number): Promise<MapOutputs> {
    const early = this.shuffles.has(shuffleId) ? undefined : this.early.get(shuffleId);
    if (early !== undefined) return early;
    return (await this.readyShuffle(shuffleId)).outputs;
  }

  private async readyShuffle(shuffleId: number): Promise<ShuffleState> {
    const state = this.shuffles.get(shuffleId);
    if (state === undefined) throw unknownShuffle(shuffleId);
    await state.ready;
    if (state.removed) throw unknownShuffle(shuffleId);
    return state;
  }

  private checkOpen(): void {
    if (this.closed) throw new BraidError(ErrorCodes.SHUTTING_DOWN, 'lifecycle manager is closed');
  }
}

function unknownShuffle(shuffleId: number): BraidError {
  return new BraidError(ErrorCodes.UNKNOWN_SHUFFLE, `shuffle ${shuffleId} is not registered`);
}
