/**
 * Quota options. The master holds applications to cluster-wide limits when
 * they ask for slots; each worker to per-worker limits on what it stores.
 * Shuffles and partitions are limited in both places (the same option), so a
 * LifecycleManager that reserves on workers directly is held to them too.
 */
import { MASTER_QUOTA_DEFAULTS, type MasterQuotaLimits } from '../server/master/quotas.js';
import { WORKER_QUOTA_DEFAULTS, type WorkerQuotaLimits } from '../server/worker/quotas.js';
import type { OptionTable } from './schema.js';

export interface MasterQuotaConfig {
  readonly quotaAppShuffles: number;
  readonly quotaShufflePartitions: number;
}

export interface WorkerQuotaConfig extends MasterQuotaConfig {
  /** Bytes. */
  readonly quotaAppBytes: number;
  readonly quotaAppFiles: number;
  readonly quotaWorkerApps: number;
}

export const masterQuotaOptions: OptionTable<MasterQuotaConfig> = {
  quotaAppShuffles: {
    kind: 'int',
    default: MASTER_QUOTA_DEFAULTS.appShuffles,
    min: 1,
    description: 'Shuffles one application may have registered at once (the master: in the cluster; a worker: on it).',
  },
  quotaShufflePartitions: {
    kind: 'int',
    default: MASTER_QUOTA_DEFAULTS.shufflePartitions,
    min: 1,
    description: 'Partitions of one shuffle: larger slot requests, and partition ids at or above it, are refused.',
  },
};

export const workerQuotaOptions: OptionTable<WorkerQuotaConfig> = {
  ...masterQuotaOptions,
  quotaAppBytes: { kind: 'size', default: WORKER_QUOTA_DEFAULTS.appBytes, min: 1, description: 'Bytes one application may hold on a worker; past it pushes answer FAIL_QUOTA.' },
  quotaAppFiles: { kind: 'int', default: WORKER_QUOTA_DEFAULTS.appFiles, min: 1, description: 'Partition files one application may hold on a worker.' },
  quotaWorkerApps: { kind: 'int', default: WORKER_QUOTA_DEFAULTS.workerApps, min: 1, description: 'Applications that may hold data on a worker at once.' },
};

export function masterQuotasFrom(c: MasterQuotaConfig): MasterQuotaLimits {
  return { appShuffles: c.quotaAppShuffles, shufflePartitions: c.quotaShufflePartitions };
}

export function workerQuotasFrom(c: WorkerQuotaConfig): WorkerQuotaLimits {
  return {
    appBytes: c.quotaAppBytes,
    appFiles: c.quotaAppFiles,
    appShuffles: c.quotaAppShuffles,
    shufflePartitions: c.quotaShufflePartitions,
    workerApps: c.quotaWorkerApps,
  };
}
