import {
  ALL_MAPS,
  BraidError,
  ErrorCodes,
  FetchFailureStatus,
  ReportShuffleFetchFailure,
  asBraidError,
  forEachBatch,
  locationFileName,
  payloadCrc,
  type BatchHeader,
  type MapSum,
  type PartitionGroup,
  type ReducerFile,
} from '../../protocol/index.js';
import type { Connection, ConnectionPool } from '../../transport/index.js';
import { decodePayload } from '../compression/codecs.js';
import { fetchChunks } from './chunk-fetcher.js';

export interface ReadContext {
  appId: string;
  pool: ConnectionPool;
  lm(): Promise<Connection>;
  fetchAhead: number;
  fetchTimeoutMs: number;
  stageAttemptId: number;
}

export interface PartitionRead {
  shuffleId: number;
  partitionId: number;
  startMapIndex: number;
  endMapIndex: number;
  group: PartitionGroup;
  mapAttempts: number[];
}

/**
 * Reads one partition exactly once. For each epoch it reads one committed
 * copy (primary first); on any error it restarts that epoch on the other copy
 * from the beginning. A batch is emitted only if its attempt is its map's
 * winner and its (mapId, batchId) was not emitted before, so duplicates from
 * retries, replicas or re-read copies never reach the caller. At the end the
 * emitted batches, bytes and CRCs per map must equal what the winners
 * reported at MapperEnd.
 */
export async function* readPartitionBatches(ctx: ReadContext, read: PartitionRead): AsyncGenerator<Buffer> {
  const { group, mapAttempts, startMapIndex, endMapIndex } = read;
  if (group.lost) await failFetch(ctx, read, new BraidError(ErrorCodes.DATA_LOST, `partition ${read.partitionId} of shuffle ${read.shuffleId} lost a location: neither copy was committed`));
  const emitted = new Map<number, Set<number>>();
  const sums = new Map<number, MapSum>();
  const byEpoch = new Map<number, ReducerFile[]>();
  for (const f of group.files) {
    let copies = byEpoch.get(f.epoch);
    if (copies === undefined) byEpoch.set(f.epoch, (copies = []));
    copies.push(f);
  }
  const inRange = (mapId: number) => mapId >= startMapIndex && (endMapIndex === ALL_MAPS || mapId < endMapIndex);
  const shuffleKey = `${ctx.appId}-${read.shuffleId}`;

  for (const epoch of [...byEpoch.keys()].sort((a, b) => a - b)) {
    // Primary first, but a copy on a worker found dead lately goes last (tried only if the other fails).
    const copies = byEpoch.get(epoch)!.sort((a, b) => Number(ctx.pool.isSuspect(a.address)) - Number(ctx.pool.isSuspect(b.address)) || a.mode - b.mode);
    let lastError: BraidError | undefined;
    let done = false;
    for (const copy of copies) {
      if (copy.bytes === 0) {
        done = true;
        break;
      }
      try {
        const conn = await ctx.pool.get(copy.address, { evenIfSuspect: true });
        const chunks = fetchChunks(
          conn,
          { shuffleKey, fileName: locationFileName(read.partitionId, epoch, copy.mode), startMapIndex, endMapIndex },
          ctx.fetchAhead,
          ctx.fetchTimeoutMs,
        );
        for await (const chunk of chunks) {
          // Select first (synchronously), then decode: a corrupt batch fails the copy before anything of it is emitted.
          const picked: { h: BatchHeader; payload: Buffer }[] = [];
          forEachBatch(chunk, (h, payload) => {
            if (!inRange(h.mapId) || mapAttempts[h.mapId] !== h.attemptId) return;
            if (emitted.get(h.mapId)?.has(h.batchId)) return;
            picked.push({ h, payload });
          });
          const decoded = await Promise.all(picked.map((p) => decodePayload(p.payload)));
          for (let i = 0; i < picked.length; i++) {
            const { h } = picked[i]!;
            let seen = emitted.get(h.mapId);
            if (seen === undefined) emitted.set(h.mapId, (seen = new Set()));
            if (seen.has(h.batchId)) continue;
            seen.add(h.batchId);
            const raw = decoded[i]!;
            let s = sums.get(h.mapId);
            if (s === undefined) sums.set(h.mapId, (s = { mapId: h.mapId, batches: 0, bytes: 0, crc: 0 }));
            s.batches++;
            s.bytes += raw.length;
            s.crc = (s.crc + payloadCrc(picked[i]!.payload)) >>> 0;
            yield raw;
          }
        }
        done = true;
        break;
      } catch (err) {
        lastError = asBraidError(err, ErrorCodes.READ_FAILED);
      }
    }
    if (!done) {
      await failFetch(ctx, read, new BraidError(ErrorCodes.FETCH_FAILED, `partition ${read.partitionId} epoch ${epoch}: every copy failed: ${lastError?.message ?? 'no copy'}`, { cause: lastError }));
    }
  }
  // Missing or corrupt data ends where a lost copy does: reported, so the engine can re-run the map stage.
  const mismatch = verify(read, sums, inRange);
  if (mismatch !== undefined) await failFetch(ctx, read, mismatch);
}

/** The emitted batches must be exactly what the winning attempts reported; returns the mismatch, if any. */
function verify(read: PartitionRead, sums: Map<number, MapSum>, inRange: (mapId: number) => boolean): BraidError | undefined {
  const expected = read.group.expected.filter((e) => inRange(e.mapId) && e.batches > 0);
  const problems: string[] = [];
  for (const e of expected) {
    const got = sums.get(e.mapId);
    if (got === undefined || got.batches !== e.batches || got.bytes !== e.bytes || got.crc !== e.crc) {
      problems.push(`map ${e.mapId}: expected ${e.batches} batches/${e.bytes} bytes/crc ${e.crc}, read ${got?.batches ?? 0}/${got?.bytes ?? 0}/${got?.crc ?? 0}`);
    }
  }
  const expectedMaps = new Set(expected.map((e) => e.mapId));
  for (const m of sums.keys()) if (!expectedMaps.has(m)) problems.push(`map ${m}: read data no winner reported`);
  if (problems.length === 0) return undefined;
  return new BraidError(ErrorCodes.CHECKSUM_MISMATCH, `partition ${read.partitionId} of shuffle ${read.shuffleId} does not match what was pushed: ${problems.slice(0, 5).join('; ')}`);
}

/** Reports the failure to the LifecycleManager (best effort) and throws it. */
async function failFetch(ctx: ReadContext, read: PartitionRead, error: BraidError): Promise<never> {
  try {
    const lm = await ctx.lm();
    const res = await lm.call(ReportShuffleFetchFailure, {
      appId: ctx.appId,
      shuffleId: read.shuffleId,
      stageAttemptId: ctx.stageAttemptId,
      partitionId: read.partitionId,
      error: error.message,
    });
    if (res.status === FetchFailureStatus.ACCEPTED && res.reSubmitWholeStage) {
      throw new BraidError(error.code, `${error.message} (the map stage must be re-run)`, { cause: error, retriable: false });
    }
  } catch (err) {
    if (err instanceof BraidError && err.cause === error) throw err;
  }
  throw error;
}

