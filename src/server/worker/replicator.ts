import {
  BraidError,
  ErrorCodes,
  MessageType,
  Mode,
  PushStatus,
  Role,
  addressKey,
  type Address,
} from '../../protocol/index.js';
import { moduleLogger } from '../../log/index.js';
import type { TlsMaterial } from '../../security/tls.js';
import { ConnectionPool, clientLiveness, unexpectedResponse, type Liveness } from '../../transport/index.js';

const log = moduleLogger('worker');

export interface ReplicaBatch {
  partitionId: number;
  epoch: number;
  batch: Buffer;
}

/**
 * Forwards accepted pushes from a primary to its replica worker and returns
 * the replica's per-batch statuses. A peer that fails is failed fast (no
 * connect attempt) for a backoff period, so pushes to its partitions fail at
 * once and their clients revive elsewhere. A replica that goes silent is
 * found by the connection's dead-peer timeout, not by the (long) request
 * timeout: the primary stops waiting for it within seconds.
 */
export class Replicator {
  private readonly pool: ConnectionPool;
  /** Peers whose failure was logged and that have not answered since (one line per episode, not per push). */
  private readonly down = new Set<string>();

  constructor(private readonly options: { key: string; tls: TlsMaterial | undefined; timeoutMs: number; backoffMs: number; connection: Liveness }) {
    this.pool = new ConnectionPool({
      role: Role.Replica,
      key: options.key,
      tls: options.tls,
      deadPeerBackoffMs: options.backoffMs,
      ...clientLiveness(options.connection),
    });
  }

  /**
   * Sends the batches to `peer`; `wholeBody` is the original merged body when
   * every batch of it goes to this peer unchanged (forwarded without a copy).
   */
  async forward(peer: Address, shuffleKey: string, batches: ReplicaBatch[], wholeBody: Buffer | undefined): Promise<Uint8Array> {
    const key = addressKey(peer);
    try {
      const conn = await this.pool.get(peer);
      const res =
        batches.length === 1
          ? await conn.request(
              { type: MessageType.PushData, shuffleKey, partitionId: batches[0]!.partitionId, epoch: batches[0]!.epoch, mode: Mode.Replica, body: batches[0]!.batch },
              this.options.timeoutMs,
            )
          : await conn.request(mergedRequest(shuffleKey, batches, wholeBody), this.options.timeoutMs);
      if (res.type !== MessageType.PushResponse) throw unexpectedResponse(res, 'replica push');
      if (res.statuses.length !== batches.length) throw new BraidError(ErrorCodes.PROTOCOL, 'replica answered a wrong number of statuses');
      if (this.down.delete(key)) log().info({ peer: key }, 'replica reachable again');
      return res.statuses;
    } catch (err) {
      if (err instanceof BraidError && PEER_FAILURES.has(err.code)) {
        if (!this.down.has(key)) {
          this.down.add(key);
          log().warn({ peer: key, code: err.code, reason: err.message }, 'replica unreachable: its pushes fail until it answers again');
        }
        // The pool remembers a peer found silent or unreachable by itself; a timeout or a reset is our own evidence.
        this.pool.markDead(peer);
        this.pool.evict(peer);
      }
      return failAll(batches.length);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Failures that say the peer (not the request) is the problem. */
const PEER_FAILURES: ReadonlySet<string> = new Set([ErrorCodes.CONNECT, ErrorCodes.TIMEOUT, ErrorCodes.PEER_DEAD, ErrorCodes.CONNECTION_CLOSED]);

function failAll(n: number): Uint8Array {
  return new Uint8Array(n).fill(PushStatus.FAIL_REPLICA);
}

function mergedRequest(shuffleKey: string, batches: ReplicaBatch[], wholeBody: Buffer | undefined) {
  const offsets: number[] = [];
  let at = 0;
  for (const b of batches) {
    offsets.push(at);
    at += b.batch.length;
  }
  // Only a subset of the original body goes to this peer: gather it (rare: mixed peers or rejected batches).
  const body = wholeBody ?? Buffer.concat(batches.map((b) => b.batch), at); // copy
  return {
    type: MessageType.PushMergedData,
    shuffleKey,
    mode: Mode.Replica,
    partitionIds: batches.map((b) => b.partitionId),
    epochs: batches.map((b) => b.epoch),
    offsets,
    body,
  } as const;
}
