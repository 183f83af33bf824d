/**
 * The master's cluster-wide quotas, checked when slots are requested:
 * shuffles one application may have registered at once, and slots one
 * request may ask for (a shuffle's partitions, or a revive's). Over one,
 * RequestSlots fails with QUOTA_EXCEEDED, not retriable: asking again
 * cannot succeed until the application unregisters shuffles. Workers hold
 * each application to its per-worker quotas themselves (worker/quotas.ts).
 */
import { BraidError, ErrorCodes } from '../../protocol/index.js';
import { quotaExceeded } from '../worker/quotas.js';

export interface MasterQuotaLimits {
  /** Shuffles one application may have registered at once, in the whole cluster. */
  appShuffles: number;
  /** Partitions of one shuffle: slots one RequestSlots may ask for. */
  shufflePartitions: number;
}

export const MASTER_QUOTA_DEFAULTS: MasterQuotaLimits = { appShuffles: 1_000, shufflePartitions: 200_000 };

export class MasterQuotas {
  readonly refusals: Record<keyof MasterQuotaLimits, number> = { appShuffles: 0, shufflePartitions: 0 };

  constructor(readonly limits: MasterQuotaLimits) {}

  /** Throws QUOTA_EXCEEDED if `appId` (holding `shuffles`, this one among them or not) may not get `count` slots for `shuffleId`. */
  checkRequest(appId: string, shuffleId: number, count: number, shuffles: ReadonlySet<number>): void {
    if (count > this.limits.shufflePartitions) {
      this.refusals.shufflePartitions++;
      throw quotaExceeded('shufflePartitions', this.limits.shufflePartitions, `application "${appId}" asks for ${count} slots for shuffle ${shuffleId}`, false);
    }
    if (!shuffles.has(shuffleId) && shuffles.size >= this.limits.appShuffles) {
      this.refusals.appShuffles++;
      throw quotaExceeded('appShuffles', this.limits.appShuffles, `application "${appId}" has ${shuffles.size} shuffles registered`, false);
    }
  }

  status(): { limits: MasterQuotaLimits; refusals: Record<keyof MasterQuotaLimits, number> } {
    return { limits: { ...this.limits }, refusals: { ...this.refusals } };
  }
}

export function resolveMasterQuotas(q: Partial<MasterQuotaLimits> | undefined): MasterQuotaLimits {
  const limits = { ...MASTER_QUOTA_DEFAULTS, ...Object.fromEntries(Object.entries(q ?? {}).filter(([, v]) => v !== undefined)) };
  for (const [k, v] of Object.entries(limits)) {
    if (!(k in MASTER_QUOTA_DEFAULTS)) throw new BraidError(ErrorCodes.CONFIG, `options.quotas.${k}: no such quota of the master`, { retriable: false });
    if (!Number.isSafeInteger(v) || v < 1) throw new BraidError(ErrorCodes.CONFIG, `options.quotas.${k} must be a positive integer, got ${String(v)}`, { retriable: false });
  }
  return limits;
}
