import { BraidError, ErrorCodes, type Address } from '../../protocol/index.js';
import type { SlotStrategyName } from './options.js';

/** A worker that may take slots, as the strategies see it. */
export interface Candidate {
  readonly key: string;
  readonly address: Address;
  /** Slots currently assigned to it (primaries and replicas). */
  readonly slots: number;
  /** Free bytes on its healthy disks; > 0 for every candidate. */
  readonly freeBytes: number;
}

export interface Pick {
  primary: Candidate;
  replica: Candidate | undefined;
}

export interface Allocation {
  picks: Pick[];
  /** Candidates that got no slot, best first, for the caller's revives. */
  spares: Candidate[];
}

/** Chooses workers for slots. `candidates` is non-empty and sorted by key; with `replicate` it has two or more. */
export interface SlotStrategy {
  allocate(candidates: readonly Candidate[], count: number, replicate: boolean): Allocation;
}

export const MAX_SPARE_WORKERS = 8;

function unavailable(message: string): BraidError {
  return new BraidError(ErrorCodes.SLOTS_UNAVAILABLE, message, { retriable: true });
}

/** Checks what every strategy needs, then lets the strategy choose. */
export function allocateSlots(strategy: SlotStrategy, candidates: readonly Candidate[], count: number, replicate: boolean): Allocation {
  if (candidates.length === 0) throw unavailable('no worker can take slots (none registered, alive, not shutting down, with free disk space and not excluded)');
  if (replicate && candidates.length < 2) {
    throw unavailable(`replication needs two workers but only ${candidates[0]?.key ?? 'one'} can take slots`);
  }
  return strategy.allocate(candidates, count, replicate);
}

/**
 * Primaries in turn over the candidates, continuing where the previous
 * request stopped, so that successive shuffles spread over the cluster.
 * A replica goes to the next candidate on another host, or failing that the
 * next other worker.
 */
export class RoundRobinStrategy implements SlotStrategy {
  private cursor = 0;

  allocate(candidates: readonly Candidate[], count: number, replicate: boolean): Allocation {
    const n = candidates.length;
    const start = this.cursor % n;
    const used = new Set<number>();
    const picks: Pick[] = [];
    for (let i = 0; i < count; i++) {
      const p = (start + i) % n;
      used.add(p);
      let replica: Candidate | undefined;
      if (replicate) {
        const r = nextReplica(candidates, p);
        used.add(r);
        replica = candidates[r];
      }
      picks.push({ primary: at(candidates, p), replica });
    }
    this.cursor = (start + count) % n;
    const spares: Candidate[] = [];
    for (let j = 0; j < n && spares.length < MAX_SPARE_WORKERS; j++) {
      const idx = (this.cursor + j) % n;
      if (!used.has(idx)) spares.push(at(candidates, idx));
    }
    return { picks, spares };
  }
}

function nextReplica(candidates: readonly Candidate[], p: number): number {
  const n = candidates.length;
  const host = at(candidates, p).address.host;
  for (let j = 1; j < n; j++) {
    const idx = (p + j) % n;
    if (at(candidates, idx).address.host !== host) return idx;
  }
  return (p + 1) % n;
}

/**
 * Each slot goes to the candidate with the lowest score
 * (slots + 1) / (freeBytes / maxFreeBytes): the fewest slots, weighted so a
 * worker with twice the free space takes about twice the slots. Ties go to
 * the lower address key. The replica is chosen the same way among the other
 * workers, on another host than the primary when one is a candidate.
 */
export class LoadAwareStrategy implements SlotStrategy {
  allocate(candidates: readonly Candidate[], count: number, replicate: boolean): Allocation {
    const n = candidates.length;
    const load = candidates.map((c) => c.slots);
    let maxFree = 0;
    for (const c of candidates) maxFree = Math.max(maxFree, c.freeBytes);
    const weight = candidates.map((c) => c.freeBytes / maxFree);
    const score = (i: number): number => ((load[i] ?? 0) + 1) / (weight[i] ?? 1);
    const best = (accept: (i: number) => boolean): number => {
      let bestIdx = -1;
      let bestScore = Infinity;
      for (let i = 0; i < n; i++) {
        if (!accept(i)) continue;
        const s = score(i);
        if (s < bestScore) {
          bestScore = s;
          bestIdx = i;
        }
      }
      return bestIdx;
    };
    const used = new Set<number>();
    const picks: Pick[] = [];
    for (let k = 0; k < count; k++) {
      const p = best(() => true);
      load[p] = (load[p] ?? 0) + 1;
      used.add(p);
      let replica: Candidate | undefined;
      if (replicate) {
        const host = at(candidates, p).address.host;
        let r = best((i) => i !== p && at(candidates, i).address.host !== host);
        if (r < 0) r = best((i) => i !== p);
        load[r] = (load[r] ?? 0) + 1;
        used.add(r);
        replica = at(candidates, r);
      }
      picks.push({ primary: at(candidates, p), replica });
    }
    const spares = candidates
      .map((c, i) => ({ c, i }))
      .filter(({ i }) => !used.has(i))
      .sort((a, b) => score(a.i) - score(b.i) || a.i - b.i)
      .slice(0, MAX_SPARE_WORKERS)
      .map(({ c }) => c);
    return { picks, spares };
  }
}

function at(candidates: readonly Candidate[], i: number): Candidate {
  const c = candidates[i];
  if (c === undefined) throw new BraidError(ErrorCodes.INTERNAL, `slot allocator index ${i} out of ${candidates.length}`);
  return c;
}

export function createStrategy(name: SlotStrategyName): SlotStrategy {
  return name === 'loadaware' ? new LoadAwareStrategy() : new RoundRobinStrategy();
}
