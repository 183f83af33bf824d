import { moduleLogger } from '../../log/index.js';
import {
  BraidError,
  DestroySlots,
  ErrorCodes,
  RequestSlots,
  ReserveSlots,
  addressKey,
  asBraidError,
  type Address,
  type PartitionLocation,
  type ReservedFile,
} from '../../protocol/index.js';
import type { MasterClient } from '../../ha/master-client.js';
import type { ConnectionPool } from '../../transport/index.js';
import { groupByWorker, groupFilesByWorker } from './shuffle-state.js';

const log = moduleLogger('lifecycle');

export interface SlotReserverConfig {
  appId: string;
  replicate: boolean;
  splitThreshold: number;
  reserveRetries: number;
  rpcTimeoutMs: number;
}

/** A partition epoch that needs a home. */
export interface SlotTarget {
  partitionId: number;
  epoch: number;
}

export interface AllocateOptions {
  /**
   * Workers to keep away from (e.g. the old location of a failed push). This
   * is a preference: when the master cannot find slots without them, the
   * request is repeated without it rather than failing the allocation.
   */
  avoid?: readonly Address[];
}

/**
 * Gets slots from the master and reserves them on the workers. Reservations
 * go to every chosen worker in parallel and are all or nothing: when one
 * worker refuses, the others are rolled back (DestroySlots), the refusing
 * worker is excluded, and the whole allocation is tried again.
 */
export class SlotReserver {
  constructor(
    private readonly master: MasterClient,
    private readonly pool: ConnectionPool,
    private readonly config: SlotReserverConfig,
  ) {}

  /** Returns one reserved location per target, in order. Fails with RESERVE_FAILED once retries run out. */
  async allocate(shuffleId: number, targets: readonly SlotTarget[], options: AllocateOptions = {}): Promise<PartitionLocation[]> {
    const { reserveRetries } = this.config;
    const refused = new Map<string, Address>();
    // Workers our connections found dead are avoided too (the master may not have noticed yet).
    let avoid = [...(options.avoid ?? []), ...this.pool.suspectAddresses()];
    let lastError: BraidError | undefined;
    for (let attempt = 0; attempt <= reserveRetries; attempt++) {
      let locations: PartitionLocation[];
      try {
        locations = await this.requestSlots(shuffleId, targets, excludedList(avoid, refused));
      } catch (err) {
        if (avoid.length > 0) {
          // The preference made the request impossible: ask again with only the hard exclusions.
          log().info({ app: this.config.appId, shuffleId, avoided: avoid.map(addressKey), reason: asBraidError(err).message }, 'no slots while avoiding failed workers: asking again without avoiding them');
          avoid = [];
          attempt--;
          continue;
        }
        if (attempt === 0) throw err;
        throw new BraidError(
          ErrorCodes.RESERVE_FAILED,
          `shuffle ${shuffleId}: no slots after excluding ${refused.size} refusing workers: ${asBraidError(err).message}`,
          { cause: err },
        );
      }
      const failed = await this.reserveAll(shuffleId, locations);
      if (failed.length === 0) return locations;
      // A refusal no other worker can change (e.g. a partition id over the quota): trying elsewhere is pointless.
      const final = failed.find((f) => f.error.code === ErrorCodes.QUOTA_EXCEEDED && !f.error.retriable);
      if (final !== undefined) throw final.error;
      for (const f of failed) refused.set(addressKey(f.address), f.address);
      lastError = failed[0]!.error;
      log().warn({ app: this.config.appId, shuffleId, attempt, refusedBy: failed.map((f) => addressKey(f.address)), reason: lastError.message }, 'reservation refused: trying other workers');
    }
    // Every worker tried was over a quota of this application: say so, with the quota's own code.
    const code = lastError?.code === ErrorCodes.QUOTA_EXCEEDED ? ErrorCodes.QUOTA_EXCEEDED : ErrorCodes.RESERVE_FAILED;
    throw new BraidError(code, `shuffle ${shuffleId}: reserving slots failed ${reserveRetries + 1} times; last: ${lastError?.message ?? 'unknown'}`, {
      cause: lastError,
      ...(code === ErrorCodes.QUOTA_EXCEEDED ? { retriable: false } : {}),
    });
  }

  /** Best-effort DestroySlots of the files of `locations` (a reservation nobody will use). */
  async release(shuffleId: number, locations: readonly PartitionLocation[]): Promise<void> {
    const byWorker = groupFilesByWorker(locations);
    await Promise.allSettled(
      [...byWorker.values()].map(async ({ address, files }) => {
        const conn = await this.pool.get(address);
        await conn.call(DestroySlots, { appId: this.config.appId, shuffleId, files }, this.config.rpcTimeoutMs);
      }),
    );
  }

  private async requestSlots(shuffleId: number, targets: readonly SlotTarget[], excluded: Address[]): Promise<PartitionLocation[]> {
    const { appId, replicate, rpcTimeoutMs } = this.config;
    const res = await this.master.call(RequestSlots, { appId, shuffleId, count: targets.length, replicate, excluded }, { timeoutMs: rpcTimeoutMs });
    if (res.slots.length !== targets.length) {
      throw new BraidError(ErrorCodes.SLOTS_UNAVAILABLE, `master returned ${res.slots.length} slots for ${targets.length} requested`);
    }
    return targets.map((t, i) => {
      const slot = res.slots[i]!;
      return { partitionId: t.partitionId, epoch: t.epoch, primary: slot.primary, replica: replicate ? slot.replica : undefined };
    });
  }

  /** Reserves on every worker in parallel; on any refusal rolls back the workers that accepted. Returns the refusals. */
  private async reserveAll(shuffleId: number, locations: readonly PartitionLocation[]): Promise<{ address: Address; error: BraidError }[]> {
    const { appId, splitThreshold, rpcTimeoutMs } = this.config;
    const plans = [...reservationsByWorker(locations).values()];
    const outcomes = await Promise.allSettled(
      plans.map(async ({ address, files }) => {
        const conn = await this.pool.get(address);
        await conn.call(ReserveSlots, { appId, shuffleId, files, splitThreshold }, rpcTimeoutMs);
      }),
    );
    const failed: { address: Address; error: BraidError }[] = [];
    const accepted: typeof plans = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') accepted.push(plans[i]!);
      else failed.push({ address: plans[i]!.address, error: asBraidError(o.reason) });
    });
    if (failed.length > 0 && accepted.length > 0) {
      // ReserveSlots is all or nothing per worker, so only the accepting workers hold anything to undo.
      await Promise.allSettled(
        accepted.map(async ({ address, files }) => {
          const conn = await this.pool.get(address);
          const fileIds = files.map(({ partitionId, epoch, mode }) => ({ partitionId, epoch, mode }));
          await conn.call(DestroySlots, { appId, shuffleId, files: fileIds }, rpcTimeoutMs);
        }),
      );
    }
    return failed;
  }
}

function excludedList(avoid: readonly Address[], refused: Map<string, Address>): Address[] {
  const all = new Map(refused);
  for (const a of avoid) all.set(addressKey(a), a);
  return [...all.values()];
}

/** Per worker, the files it must reserve: a primary points at its replica (forwarding), a replica at its primary. */
function reservationsByWorker(locations: readonly PartitionLocation[]): Map<string, { address: Address; files: ReservedFile[] }> {
  return groupByWorker(locations, (loc, mode, peer): ReservedFile => ({ partitionId: loc.partitionId, epoch: loc.epoch, mode, peer }));
}
