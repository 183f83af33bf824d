/**
 * A Flink-style ShuffleMaster over Braid: one per cluster, living as long as
 * the cluster (start/close), with jobs registered and unregistered over its
 * life. Each job gets its own LifecycleManager (the job id is its
 * application id), each result (intermediate data set) one Braid shuffle, and
 * each producer partition of a result one map of that shuffle.
 *
 * Braid spreads a shuffle's data by consumer partition, so when a worker is
 * lost, a result loses data if one of its locations had no other copy; then
 * every producer partition of that result must be produced again. The master
 * tells all jobs at once (`stopTrackingAndReleasePartitions`), after starting
 * a new attempt of the result's map stage in the job's LifecycleManager, so
 * that the partitions produced again win and are committed and read. Each
 * registration of a producer partition gets the next attempt id of that
 * partition (`BraidShuffleDescriptor.attemptId`): a partition produced again
 * never reuses the id of the attempt whose data was lost. Errors it cannot
 * recover from (the Braid master unreachable for too long) go to
 * `ShuffleMasterContext.onFatalError`.
 */
import { LifecycleManager } from '../client/lifecycle/index.js';
import { parseMasters, type MasterAddresses } from '../ha/master-addresses.js';
import { MasterClient } from '../ha/master-client.js';
import { BraidError, ErrorCodes, GetStatus, Role, addressKey, asBraidError, type Address, type PartitionLocation } from '../protocol/index.js';
import { applicationKey } from '../security/keys.js';
import { TlsMaterial, type TlsInput } from '../security/tls.js';

/** What the cluster gives the shuffle master. */
export interface ShuffleMasterContext {
  onFatalError(error: Error): void;
}

/** What a job gives the shuffle master. */
export interface JobShuffleContext {
  readonly jobId: string;
  /** The job stops tracking these partitions and will produce them again. */
  stopTrackingAndReleasePartitions(partitions: readonly ResultPartitionId[]): void;
}

/** A producer partition: one partition of one result. */
export interface ResultPartitionId {
  readonly resultId: string;
  readonly partitionIndex: number;
}

export interface PartitionDescriptor extends ResultPartitionId {
  /** Producer partitions of the result (the shuffle's maps). */
  readonly numberOfPartitions: number;
  /** Consumer subpartitions (the shuffle's partitions). */
  readonly numberOfSubpartitions: number;
}

export interface ProducerDescriptor {
  readonly producerId: string;
}

/** What a producer and its consumers need to push and read the partition through Braid. */
export interface BraidShuffleDescriptor extends ResultPartitionId {
  readonly jobId: string;
  readonly producerId: string;
  readonly lifecycleManager: string;
  readonly shuffleId: number;
  readonly mapId: number;
  /** The Braid attempt id the producer pushes and ends with: 0, then one more for every registration of the same partition. */
  readonly attemptId: number;
  readonly numMappers: number;
  readonly numPartitions: number;
}

export interface BraidShuffleMasterOptions {
  /** The Braid master, or every master of a cluster with high availability (the leader is followed). */
  master: MasterAddresses;
  /** How often worker liveness is read from the Braid master. */
  pollIntervalMs?: number;
  /** The Braid master unreachable for this long is fatal. */
  masterFailureTimeoutMs?: number;
  /** Replicate every job's shuffles (default true). */
  replicate?: boolean;
  /**
   * The cluster secret: the shuffle master watches the cluster as an admin,
   * and gives each job's LifecycleManager that job's key. Required unless
   * `insecure`.
   */
  authSecret?: string;
  /** A Braid cluster running without authentication. */
  insecure?: boolean;
  /** TLS material (CA, and a certificate of the cluster CA: the admin role presents it, each job's LifecycleManager listens with it). */
  tls?: TlsInput;
}

interface ResultState {
  shuffleId: number;
  partitions: Map<number, BraidShuffleDescriptor>;
  /** Next attempt id per producer partition. */
  nextAttempt: Map<number, number>;
}

interface JobState {
  context: JobShuffleContext;
  lm: LifecycleManager;
  results: Map<string, ResultState>;
  nextShuffleId: number;
}

export class BraidShuffleMaster {
  private readonly jobs = new Map<string, JobState>();
  private readonly masters: Address[];
  private readonly admin: MasterClient;
  private timer: NodeJS.Timeout | undefined;
  private lostWorkers = new Set<string>();
  private lastContact = Date.now();
  private polling = false;
  private readonly tls: TlsMaterial | undefined;

  constructor(
    private readonly context: ShuffleMasterContext,
    private readonly options: BraidShuffleMasterOptions,
  ) {
    try {
      this.masters = parseMasters(options.master);
    } catch (err) {
      throw new BraidError(ErrorCodes.CONFIG, `BraidShuffleMaster option "master": ${(err as Error).message}`);
    }
    this.tls = TlsMaterial.resolve(options.tls);
    // One poll looks for the leader for at most one poll interval; the fatal timeout spans many.
    this.admin = new MasterClient({
      masters: this.masters,
      connect: { role: Role.Admin, key: options.authSecret ?? '', tls: this.tls },
      failoverTimeoutMs: options.pollIntervalMs ?? 1000,
    });
  }

  /** Connects to the Braid master and starts watching worker liveness. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.options.pollIntervalMs ?? 1000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const jobId of [...this.jobs.keys()]) await this.unregisterJob(jobId);
    await this.admin.close();
  }

  async registerJob(context: JobShuffleContext): Promise<void> {
    if (this.jobs.has(context.jobId)) return;
    const lm = await LifecycleManager.start({
      appId: context.jobId,
      master: this.masters,
      ...(this.options.authSecret ? { authToken: applicationKey(this.options.authSecret, context.jobId) } : { insecure: this.options.insecure ?? false }),
      tls: this.tls,
      replicate: this.options.replicate ?? true,
    });
    this.jobs.set(context.jobId, { context, lm, results: new Map(), nextShuffleId: 0 });
  }

  /** Forgets a job: its shuffles are deleted on every worker. */
  async unregisterJob(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId);
    if (job === undefined) return;
    this.jobs.delete(jobId);
    for (const r of job.results.values()) await job.lm.unregisterShuffle(r.shuffleId).catch(() => undefined);
    await job.lm.close();
  }

  registerPartitionWithProducer(jobId: string, partition: PartitionDescriptor, producer: ProducerDescriptor): BraidShuffleDescriptor {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new Error(`job ${jobId} is not registered`);
    let result = job.results.get(partition.resultId);
    if (result === undefined) job.results.set(partition.resultId, (result = { shuffleId: job.nextShuffleId++, partitions: new Map(), nextAttempt: new Map() }));
    const attemptId = result.nextAttempt.get(partition.partitionIndex) ?? 0;
    result.nextAttempt.set(partition.partitionIndex, attemptId + 1);
    const descriptor: BraidShuffleDescriptor = {
      jobId,
      resultId: partition.resultId,
      partitionIndex: partition.partitionIndex,
      producerId: producer.producerId,
      lifecycleManager: addressKey(job.lm.address),
      shuffleId: result.shuffleId,
      mapId: partition.partitionIndex,
      attemptId,
      numMappers: partition.numberOfPartitions,
      numPartitions: partition.numberOfSubpartitions,
    };
    result.partitions.set(partition.partitionIndex, descriptor);
    return descriptor;
  }

  /** Releases one producer partition; a result whose partitions are all released is deleted. */
  async releasePartitionExternally(descriptor: BraidShuffleDescriptor): Promise<void> {
    const job = this.jobs.get(descriptor.jobId);
    const result = job?.results.get(descriptor.resultId);
    if (job === undefined || result === undefined) return;
    result.partitions.delete(descriptor.partitionIndex);
    if (result.partitions.size === 0) {
      job.results.delete(descriptor.resultId);
      await job.lm.unregisterShuffle(result.shuffleId).catch(() => undefined);
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const res = await this.admin.call(GetStatus, {}, { timeoutMs: 5000 });
      this.lastContact = Date.now();
      const status = JSON.parse(res.json.toString('utf8')) as { workers: { address: string; lost: boolean }[] };
      const lost = new Set(status.workers.filter((w) => w.lost).map((w) => w.address));
      const newlyLost = [...lost].filter((w) => !this.lostWorkers.has(w));
      this.lostWorkers = lost;
      if (newlyLost.length > 0) this.onWorkersLost(new Set(newlyLost));
    } catch (err) {
      if (Date.now() - this.lastContact > (this.options.masterFailureTimeoutMs ?? 60_000)) {
        this.context.onFatalError(asBraidError(err));
      }
    } finally {
      this.polling = false;
    }
  }

  /**
   * Tells every job at once which of its partitions lost data on the lost
   * workers. The result's map stage starts a new attempt first: its old
   * winners are forgotten, so the partitions produced again win, and readers
   * read only the epochs written from now on.
   */
  private onWorkersLost(lost: ReadonlySet<string>): void {
    const dead = (a: Address | undefined) => a === undefined || lost.has(addressKey(a)) || this.lostWorkers.has(addressKey(a));
    for (const job of this.jobs.values()) {
      const release: ResultPartitionId[] = [];
      for (const [resultId, result] of job.results) {
        const locations: PartitionLocation[] = job.lm.liveLocations(result.shuffleId);
        // A location survives while one of its copies is on a live worker.
        const hit = locations.some((l) => lost.has(addressKey(l.primary)) || (l.replica !== undefined && lost.has(addressKey(l.replica))));
        const broken = locations.some((l) => dead(l.primary) && dead(l.replica));
        if (!hit || !broken) continue;
        job.lm.resetForStageRetry(result.shuffleId);
        for (const p of result.partitions.keys()) release.push({ resultId, partitionIndex: p });
      }
      if (release.length > 0) job.context.stopTrackingAndReleasePartitions(release);
    }
  }
}
