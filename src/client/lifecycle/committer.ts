import { componentLogger, type Logger } from '../../log/index.js';
import {
  CommitFiles,
  Mode,
  addressKey,
  asBraidError,
  type Address,
  type CommittedFileInfo,
  type FileId,
  type PartitionLocation,
  type ReducerFile,
} from '../../protocol/index.js';
import type { ConnectionPool } from '../../transport/index.js';
import { deferred, holdsData, type Deferred, type MapOutputs, type PartitionResult, type ShuffleState, type StageResult } from './shuffle-state.js';

export interface CommitterConfig {
  appId: string;
  rpcTimeoutMs: number;
  /** How long a worker that does not answer (timeout, lost connection) is asked again before its copies count as not committed. */
  commitRetryMs: number;
}

/** Pause before the first retry of a worker's commit; it doubles up to COMMIT_BACKOFF_MAX_MS. */
const COMMIT_BACKOFF_MS = 100;
const COMMIT_BACKOFF_MAX_MS = 2000;
const NOT_NEEDED: unique symbol = Symbol('not needed');

function fileKey(partitionId: number, epoch: number, mode: number): string {
  return `${partitionId}/${epoch}/${mode}`;
}

function epochKey(partitionId: number, epoch: number): string {
  return `${partitionId}/${epoch}`;
}

interface Committed {
  address: Address;
  info: CommittedFileInfo;
}

/**
 * Ends a stage: CommitFiles to every worker holding a file of the shuffle, in
 * parallel, then decides per (partition, epoch) whether a copy survived.
 *
 * A worker that does not answer is asked again, with backoff, until it
 * answers or `commitRetryMs` has passed since the stage ended: commit is
 * idempotent per file, so a retry after a lost answer is harmless. Only a
 * worker that stays unreachable that long, or refuses the commit outright (a
 * non-retriable error), counts as gone, and then its copies count as not
 * committed. Retrying stops early once the worker's copies are not needed:
 * every epoch it holds already has a committed copy on another worker.
 */
export class Committer {
  private readonly log: Logger;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly config: CommitterConfig,
  ) {
    this.log = componentLogger('lifecycle', { app: config.appId });
  }

  /**
   * Commits what the shuffle holds now and settles `outputs.result`. The set
   * of files and the winners are taken synchronously, before any await, so
   * an epoch added later (a late revive) is neither committed nor judged.
   */
  commit(state: ShuffleState, outputs: MapOutputs): Promise<StageResult> {
    const epochs: PartitionLocation[][] = [];
    for (let p = 0; p < state.numPartitions; p++) epochs.push([...state.liveEpochsOf(p)]);
    const byWorker = [...state.filesByWorker().values()];
    const mapAttempts = Array.from(outputs.winners);
    const expected = state.expectedSums(outputs);
    const data = state.dataEpochs(outputs);
    const shuffleId = state.shuffleId;

    const run = async (): Promise<StageResult> => {
      const committed = new Map<string, Committed>();
      const committedEpochs = new Set<string>();
      const deadline = performance.now() + this.config.commitRetryMs;
      // Per worker still being asked: settles once none of its copies is needed.
      const waiting = new Map<string, { files: FileId[]; notNeeded: Deferred<void> }>();
      // A copy is needed while its epoch holds winners' data and no copy of it has committed.
      const needed = (files: readonly FileId[]) => files.some((f) => holdsData(data[f.partitionId], f.epoch) && !committedEpochs.has(epochKey(f.partitionId, f.epoch)));
      const settleNotNeeded = () => {
        for (const w of waiting.values()) if (!needed(w.files)) w.notNeeded.resolve();
      };
      for (const { address, files } of byWorker) waiting.set(addressKey(address), { files, notNeeded: deferred<void>() });
      // A worker holding no winner's data is never waited for beyond its first answer.
      settleNotNeeded();
      await Promise.all(
        byWorker.map(async ({ address, files }) => {
          const key = addressKey(address);
          const infos = await this.commitOn(address, shuffleId, files, mapAttempts, deadline, waiting.get(key)!.notNeeded.promise);
          waiting.delete(key);
          const asked = new Set(files.map((f) => fileKey(f.partitionId, f.epoch, f.mode)));
          for (const info of infos) {
            const fk = fileKey(info.partitionId, info.epoch, info.mode);
            if (!asked.has(fk)) continue;
            committed.set(fk, { address, info });
            committedEpochs.add(epochKey(info.partitionId, info.epoch));
          }
          settleNotNeeded();
        }),
      );
      const partitions: PartitionResult[] = epochs.map((locs, partitionId) => {
        const files: ReducerFile[] = [];
        let lost = false;
        for (const loc of locs) {
          let copies = 0;
          for (const mode of [Mode.Primary, Mode.Replica]) {
            const c = committed.get(fileKey(partitionId, loc.epoch, mode));
            if (c === undefined) continue;
            copies++;
            files.push({ epoch: loc.epoch, mode, address: c.address, bytes: c.info.bytes, numChunks: Math.max(0, c.info.chunkOffsets.length - 1) });
          }
          // Data is lost only when neither the primary nor the replica of an epoch that holds winners' data committed.
          if (copies === 0 && holdsData(data[partitionId], loc.epoch)) lost = true;
        }
        return { partitionId, files, expected: expected[partitionId]!, lost };
      });
      return { shuffleId, mapAttempts, partitions };
    };

    run().then(
      (result) => outputs.result.resolve(result),
      (err: unknown) => outputs.result.reject(asBraidError(err)),
    );
    return outputs.result.promise;
  }

  /**
   * CommitFiles on one worker, asked again while the failure is retriable and
   * `deadline` has not passed. Returns what it committed; nothing when it is
   * gone, or, once a call has failed, as soon as `notNeeded` settles (even
   * during a later call or a pause).
   */
  private async commitOn(
    address: Address,
    shuffleId: number,
    files: FileId[],
    mapAttempts: number[],
    deadline: number,
    notNeeded: Promise<void>,
  ): Promise<CommittedFileInfo[]> {
    const { appId, rpcTimeoutMs } = this.config;
    const gaveUp = notNeeded.then((): typeof NOT_NEEDED => NOT_NEEDED);
    const worker = addressKey(address);
    const stop = () => {
      this.log.info({ shuffleId, worker }, 'commit: every epoch on the worker has a committed copy elsewhere, not waiting for it any more');
      return [];
    };
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      const call = (async () => {
        const conn = await this.pool.get(address);
        return (await conn.call(CommitFiles, { appId, shuffleId, files, mapAttempts }, Math.max(1, Math.min(rpcTimeoutMs, Math.ceil(left))))).committed;
      })();
      try {
        // The first answer is always awaited: a worker that is only slower than the others still lists its copies.
        const answer = await (attempt === 0 ? call : Promise.race([call, gaveUp]));
        return answer === NOT_NEEDED ? stop() : answer;
      } catch (err) {
        const e = asBraidError(err);
        const pause = Math.min(COMMIT_BACKOFF_MS * 2 ** attempt, COMMIT_BACKOFF_MAX_MS);
        if (!e.retriable || performance.now() + pause >= deadline) {
          this.log.warn({ shuffleId, worker, tries: attempt + 1, files: files.length, code: e.code, err: e.message }, e.retriable ? 'commit: worker stayed unreachable, its copies count as not committed' : 'commit: worker refused the commit, its copies count as not committed');
          return [];
        }
        if (attempt === 0) this.log.warn({ shuffleId, worker, code: e.code, err: e.message }, 'commit: worker did not answer, asking again with backoff');
        let timer: NodeJS.Timeout | undefined;
        const slept = await Promise.race([new Promise<true>((r) => (timer = setTimeout(() => r(true), pause))), gaveUp]);
        clearTimeout(timer);
        if (slept === NOT_NEEDED) return stop();
      }
    }
  }
}
