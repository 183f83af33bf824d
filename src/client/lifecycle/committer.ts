import { moduleLogger } from '../../log/index.js';
import {
  CommitFiles,
  Mode,
  addressKey,
  asBraidError,
  type Address,
  type CommittedFileInfo,
  type PartitionLocation,
  type ReducerFile,
} from '../../protocol/index.js';
import type { ConnectionPool } from '../../transport/index.js';
import type { MapOutputs, PartitionResult, ShuffleState, StageResult } from './shuffle-state.js';

const log = moduleLogger('lifecycle');

export interface CommitterConfig {
  appId: string;
  rpcTimeoutMs: number;
}

function fileKey(partitionId: number, epoch: number, mode: number): string {
  return `${partitionId}/${epoch}/${mode}`;
}

/**
 * Ends a stage: CommitFiles to every worker holding a file of the shuffle, in
 * parallel, then decides per (partition, epoch) whether a copy survived. A
 * worker that does not answer counts as having committed nothing.
 */
export class Committer {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly config: CommitterConfig,
  ) {}

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
    const { appId, rpcTimeoutMs } = this.config;
    const shuffleId = state.shuffleId;

    const run = async (): Promise<StageResult> => {
      const answers = await Promise.all(
        byWorker.map(async ({ address, files }) => {
          try {
            const conn = await this.pool.get(address);
            const res = await conn.call(CommitFiles, { appId, shuffleId, files, mapAttempts }, rpcTimeoutMs);
            const asked = new Set(files.map((f) => fileKey(f.partitionId, f.epoch, f.mode)));
            return { address, committed: res.committed.filter((c) => asked.has(fileKey(c.partitionId, c.epoch, c.mode))) };
          } catch (err) {
            log().warn({ app: appId, shuffleId, worker: addressKey(address), files: files.length, reason: asBraidError(err).message }, 'commit failed: the files on this worker count as not committed');
            return { address, committed: [] as CommittedFileInfo[] };
          }
        }),
      );
      const committed = new Map<string, { address: Address; info: CommittedFileInfo }>();
      for (const { address, committed: infos } of answers) {
        for (const info of infos) committed.set(fileKey(info.partitionId, info.epoch, info.mode), { address, info });
      }
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
          // Data is lost only when neither the primary nor the replica of an epoch committed.
          if (copies === 0) lost = true;
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
}
