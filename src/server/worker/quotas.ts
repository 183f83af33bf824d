/**
 * Quotas a worker enforces on what it holds, per application: bytes, files
 * and shuffles here, the partition ids of a shuffle, and how many
 * applications may hold data here at all. A reservation over a quota is
 * refused before it creates anything; a pushed batch over the byte quota is
 * answered FAIL_QUOTA (the client revives it elsewhere). Nothing already
 * stored is ever dropped for a quota.
 *
 * Each worker counts only what is on it: together with the master's
 * cluster-wide quotas (shuffles per application, partitions per shuffle),
 * this holds an application to its limits even if its LifecycleManager
 * reserves files without asking the master.
 */
import { BraidError, ErrorCodes, locationFileName, type ReservedFile } from '../../protocol/index.js';
import type { AppUsage, ShuffleRegistry } from './shuffle-registry.js';

const TIB = 1024 ** 4;

export interface WorkerQuotaLimits {
  /** Bytes one application may hold on this worker (buffered and on disk). */
  appBytes: number;
  /** Partition files one application may hold on this worker. */
  appFiles: number;
  /** Shuffles one application may hold on this worker. */
  appShuffles: number;
  /** Partition ids of a shuffle must be below this. */
  shufflePartitions: number;
  /** Applications that may hold data on this worker at once. */
  workerApps: number;
}

export const WORKER_QUOTA_DEFAULTS: WorkerQuotaLimits = {
  appBytes: TIB,
  appFiles: 250_000,
  appShuffles: 1_000,
  shufflePartitions: 200_000,
  workerApps: 1_000,
};

export type WorkerQuotaName = keyof WorkerQuotaLimits;

/** The option that sets a quota, as operators write it (config key; the flag is its kebab-case form). */
export function quotaOption(name: string): string {
  return `quota${name[0]!.toUpperCase()}${name.slice(1)}`;
}

/** The one error of an exceeded quota: it names the quota's option and says whether another try may succeed. */
export function quotaExceeded(name: string, limit: number, detail: string, retriable: boolean): BraidError {
  return new BraidError(
    ErrorCodes.QUOTA_EXCEEDED,
    `quota ${quotaOption(name)} (${limit}) exceeded: ${detail}${retriable ? ' (retriable: another worker may have room)' : ' (not retriable)'}`,
    { retriable },
  );
}

export interface WorkerQuotaStatus {
  limits: WorkerQuotaLimits;
  /** Refusals since start, per quota. */
  refusals: Record<WorkerQuotaName, number>;
  /** What each application holds here. */
  usage: AppUsage[];
}

export class WorkerQuotas {
  readonly refusals: Record<WorkerQuotaName, number> = { appBytes: 0, appFiles: 0, appShuffles: 0, shufflePartitions: 0, workerApps: 0 };

  constructor(
    readonly limits: WorkerQuotaLimits,
    private readonly registry: ShuffleRegistry,
    private readonly where: () => string,
  ) {}

  private refuse(name: WorkerQuotaName, detail: string, retriable: boolean): never {
    this.refusals[name]++;
    throw quotaExceeded(name, this.limits[name], detail, retriable);
  }

  /** Throws QUOTA_EXCEEDED if reserving `files` of the shuffle would pass a quota; run before anything is created. */
  checkReserve(appId: string, shuffleId: number, files: readonly ReservedFile[]): void {
    const l = this.limits;
    const app = `application "${appId}"`;
    for (const f of files) {
      if (f.partitionId >= l.shufflePartitions) this.refuse('shufflePartitions', `${app} reserves partition ${f.partitionId} of shuffle ${shuffleId}`, false);
    }
    const usage = this.registry.usageOf(appId);
    if (usage === undefined && this.applications() >= l.workerApps) {
      this.refuse('workerApps', `${this.applications()} applications hold data on worker ${this.where()}`, true);
    }
    const shuffle = this.registry.get(`${appId}-${shuffleId}`);
    if (shuffle === undefined && (usage?.shuffles ?? 0) >= l.appShuffles) {
      this.refuse('appShuffles', `${app} holds ${usage!.shuffles} shuffles on worker ${this.where()}`, true);
    }
    const added = shuffle === undefined ? files.length : files.filter((f) => !shuffle.files.has(locationFileName(f.partitionId, f.epoch, f.mode))).length;
    if ((usage?.files ?? 0) + added > l.appFiles) {
      this.refuse('appFiles', `${app} holds ${usage?.files ?? 0} files on worker ${this.where()} and reserves ${added} more`, true);
    }
    if ((usage?.bytes ?? 0) >= l.appBytes) this.refuse('appBytes', `${app} holds ${usage!.bytes} bytes on worker ${this.where()}`, true);
  }

  /** True when `usage` may grow by `bytes` (one pushed batch); counts a refusal otherwise. */
  admitsBytes(usage: AppUsage, bytes: number): boolean {
    if (usage.bytes + bytes <= this.limits.appBytes) return true;
    this.refusals.appBytes++;
    return false;
  }

  private applications(): number {
    let n = 0;
    for (const _ of this.registry.applications()) n++;
    return n;
  }

  /** Limits, refusals and usage; an application viewer sees its own usage only. */
  status(onlyApp?: string): WorkerQuotaStatus {
    const usage = [...this.registry.applications()].filter((u) => onlyApp === undefined || u.appId === onlyApp).map((u) => ({ ...u }));
    return { limits: { ...this.limits }, refusals: { ...this.refusals }, usage };
  }
}

/** Fills in defaults and checks a quota setting; errors name the option. */
export function resolveWorkerQuotas(q: Partial<WorkerQuotaLimits> | undefined): WorkerQuotaLimits {
  const limits = { ...WORKER_QUOTA_DEFAULTS, ...Object.fromEntries(Object.entries(q ?? {}).filter(([, v]) => v !== undefined)) };
  for (const [k, v] of Object.entries(limits)) {
    if (!(k in WORKER_QUOTA_DEFAULTS)) throw new BraidError(ErrorCodes.CONFIG, `worker option "quotas.${k}": no such quota`, { retriable: false });
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new BraidError(ErrorCodes.CONFIG, `worker option "quotas.${k}" (${quotaOption(k)}): expected a positive integer, got ${String(v)}`, { retriable: false });
    }
  }
  return limits;
}
