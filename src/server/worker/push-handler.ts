import {
  BATCH_HEADER_SIZE,
  MessageType,
  Mode,
  PushStatus,
  pushAccepted,
  type Address,
  type MessageOfType,
} from '../../protocol/index.js';
import type { DataDirs } from '../../storage/index.js';
import { actsFor, pushAllowed } from '../../security/access.js';
import type { Connection } from '../../transport/index.js';
import type { WorkerQuotas } from './quotas.js';
import type { Replicator, ReplicaBatch } from './replicator.js';
import { appIdOfKey, type FileEntry, type ShuffleRegistry, type ShuffleState } from './shuffle-registry.js';
import type { WorkerMetrics } from './worker-metrics.js';

type PushMessage = MessageOfType<typeof MessageType.PushData> | MessageOfType<typeof MessageType.PushMergedData>;

export interface PushLimits {
  hardSplitLimit: number;
}

/**
 * Takes PushData and PushMergedData. Each batch gets its own status:
 * SUCCESS or SOFT_SPLIT (kept), HARD_SPLIT (not kept: move and resend),
 * MAP_ENDED (drop), or a failure. A primary with a replica forwards the kept
 * batches and answers only after the replica answered.
 */
export class PushHandler {
  shuttingDown = false;

  constructor(
    private readonly registry: ShuffleRegistry,
    private readonly dataDirs: DataDirs,
    private readonly replicator: Replicator,
    private readonly limits: PushLimits,
    private readonly metrics: WorkerMetrics,
    private readonly quotas: WorkerQuotas,
  ) {}

  handle(msg: PushMessage, conn: Connection): void {
    const started = performance.now();
    const shuffle = this.registry.get(msg.shuffleKey);
    const forbidden = !pushAllowed(conn.peerRole, msg.mode);
    const wrongApp = !actsFor(conn, appIdOfKey(msg.shuffleKey));
    const single = msg.type === MessageType.PushData;
    const n = single ? 1 : msg.partitionIds.length;
    const statuses = new Uint8Array(n);
    // Kept batches that must also reach a replica, grouped by peer.
    let forwards: Map<string, { peer: Address; batches: ReplicaBatch[]; indices: number[] }> | undefined;
    let forwardedCount = 0;

    for (let i = 0; i < n; i++) {
      const partitionId = single ? msg.partitionId : msg.partitionIds[i]!;
      const epoch = single ? msg.epoch : msg.epochs[i]!;
      const batch = single ? msg.body : msg.body.subarray(msg.offsets[i]!, i + 1 < n ? msg.offsets[i + 1]! : msg.body.length);
      let status: number;
      let entry: FileEntry | undefined;
      if (forbidden) status = PushStatus.FAIL_FORBIDDEN;
      else if (wrongApp) status = PushStatus.FAIL_WRONG_APP;
      else if (shuffle === undefined) status = PushStatus.FAIL_UNKNOWN_SHUFFLE;
      else {
        entry = shuffle.file(partitionId, epoch, msg.mode);
        status = this.append(shuffle, entry, batch);
      }
      statuses[i] = status;
      this.metrics.pushStatus(status);
      if (msg.mode === Mode.Primary && entry?.peer !== undefined && pushAccepted(status)) {
        forwards ??= new Map();
        const key = entry.peerKey!;
        let group = forwards.get(key);
        if (group === undefined) forwards.set(key, (group = { peer: entry.peer, batches: [], indices: [] }));
        group.batches.push({ partitionId, epoch, batch });
        group.indices.push(i);
        forwardedCount++;
      }
    }
    this.metrics.pushed(msg.type, msg.body.length);

    if (forwards === undefined) {
      this.answer(conn, msg.requestId, statuses, started);
      return;
    }
    // The whole merged body can be forwarded as is when every batch was kept for the same peer.
    const wholeBody = !single && forwards.size === 1 && forwardedCount === n ? msg.body : undefined;
    const groups = [...forwards.values()];
    void Promise.all(groups.map((g) => this.replicator.forward(g.peer, msg.shuffleKey, g.batches, wholeBody))).then((results) => {
      for (let g = 0; g < groups.length; g++) {
        const replicaStatuses = results[g]!;
        const indices = groups[g]!.indices;
        for (let j = 0; j < indices.length; j++) {
          if (!pushAccepted(replicaStatuses[j]!)) {
            statuses[indices[j]!] = PushStatus.FAIL_REPLICA;
            this.metrics.pushStatus(PushStatus.FAIL_REPLICA);
          }
        }
      }
      this.answer(conn, msg.requestId, statuses, started);
    });
  }

  /** Decides one batch's fate and appends it when kept. */
  private append(shuffle: ShuffleState, entry: FileEntry | undefined, batch: Buffer): number {
    if (entry === undefined) return PushStatus.FAIL_UNKNOWN_LOCATION;
    if (batch.length < BATCH_HEADER_SIZE || batch.readUInt32BE(12) !== batch.length - BATCH_HEADER_SIZE) return PushStatus.FAIL_CORRUPT;
    if (entry.committed !== undefined || entry.committing !== undefined) {
      // MAP_ENDED only for the attempt that won: every other attempt revives, and the
      // LifecycleManager decides (MAP_ENDED, or a new epoch after a stage retry).
      return shuffle.isWinner(batch.readUInt32BE(0), batch.readUInt32BE(4)) ? PushStatus.MAP_ENDED : PushStatus.FAIL_LOCATION_COMMITTED;
    }
    if (this.shuttingDown) return PushStatus.HARD_SPLIT;
    const writer = entry.writer;
    if (writer === undefined) return PushStatus.FAIL_UNKNOWN_LOCATION;
    // No copy fills its disk past the reserve, and a file whose write failed takes nothing more: a primary
    // answers HARD_SPLIT (the writer moves on), a replica refuses (its primary answers FAIL_REPLICA, the writer revives elsewhere).
    if (writer.degraded || this.dataDirs.wouldExceedReserve(writer.dir, batch.length)) {
      if (entry.mode === Mode.Primary) this.metrics.split('hard');
      return PushStatus.HARD_SPLIT;
    }
    // Otherwise a replica takes whatever its primary kept, so both copies hold the same batches.
    if (entry.mode === Mode.Primary && writer.bytesWritten > 0 && writer.bytesWritten + batch.length > this.limits.hardSplitLimit) {
      this.metrics.split('hard');
      return PushStatus.HARD_SPLIT;
    }
    if (!this.quotas.admitsBytes(shuffle.usage, batch.length)) return PushStatus.FAIL_QUOTA;
    try {
      writer.append(batch);
    } catch {
      return PushStatus.FAIL_WRITE;
    }
    shuffle.addBytes(entry, batch.length);
    if (entry.mode === Mode.Primary && writer.bytesWritten >= entry.splitThreshold) {
      this.metrics.split('soft');
      return PushStatus.SOFT_SPLIT;
    }
    return PushStatus.SUCCESS;
  }

  private answer(conn: Connection, requestId: number, statuses: Uint8Array, started: number): void {
    conn.reply({ type: MessageType.PushResponse, requestId, statuses: Buffer.from(statuses.buffer, statuses.byteOffset, statuses.length) });
    this.metrics.pushLatency((performance.now() - started) / 1000);
  }
}
