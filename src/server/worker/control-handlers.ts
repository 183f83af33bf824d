import { rm, stat } from 'node:fs/promises';
import type { Logger } from '../../log/index.js';
import {
  BraidError,
  CommitFiles,
  DestroySlots,
  ErrorCodes,
  ReserveSlots,
  UnregisterShuffle,
  addressKey,
  locationFileName,
  type CommittedFileInfo,
  type FileId,
  type ReservedFile,
} from '../../protocol/index.js';
import {
  PartitionWriter,
  checkPathSegment,
  deleteShuffle,
  type DataDirs,
  type MemoryTracker,
  type MetaStore,
} from '../../storage/index.js';
import { checkApplication } from '../../security/access.js';
import type { RpcRouter } from '../../transport/index.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { WorkerQuotas } from './quotas.js';
import type { FileEntry, ShuffleRegistry, ShuffleState } from './shuffle-registry.js';

/** Partition files a reservation creates at once. */
const RESERVE_CONCURRENCY = 16;

/**
 * The worker's control RPCs: ReserveSlots (all or nothing), CommitFiles
 * (idempotent), DestroySlots and UnregisterShuffle.
 */
export class ControlHandlers {
  /** Set while the worker leaves service (stop or decommission): new reservations are refused. */
  refuseReservations = false;
  /** The worker's logger, once it listens. */
  log: Logger | undefined;

  constructor(
    private readonly registry: ShuffleRegistry,
    private readonly dataDirs: DataDirs,
    private readonly memory: MemoryTracker,
    private readonly meta: MetaStore,
    /** Forgets everything served from a committed file: cached chunks, sort results, open handles. */
    private readonly forgetFile: (path: string) => Promise<void>,
    private readonly options: ResolvedWorkerOptions,
    private readonly quotas: WorkerQuotas,
  ) {}

  register(router: RpcRouter): void {
    router
      .on(ReserveSlots, (req, conn) => {
        checkApplication(conn, req.appId);
        return this.reserve(req.appId, req.shuffleId, req.files, req.splitThreshold);
      })
      .on(CommitFiles, (req, conn) => {
        checkApplication(conn, req.appId);
        return this.commit(req.appId, req.shuffleId, req.files, req.mapAttempts);
      })
      .on(DestroySlots, async (req, conn) => {
        checkApplication(conn, req.appId);
        const shuffle = this.registry.get(`${req.appId}-${req.shuffleId}`);
        if (shuffle) await Promise.all(req.files.map((f) => this.destroyFile(shuffle, locationFileName(f.partitionId, f.epoch, f.mode))));
        return {};
      })
      .on(UnregisterShuffle, async (req, conn) => {
        checkApplication(conn, req.appId);
        if (await this.deleteShuffle(`${req.appId}-${req.shuffleId}`)) this.log?.info({ shuffle: `${req.appId}-${req.shuffleId}` }, 'shuffle unregistered: its files are deleted');
        return {};
      });
  }

  /** Creates a writer for every file, or none: a failure destroys what this call created. */
  async reserve(appId: string, shuffleId: number, files: ReservedFile[], splitThreshold: number): Promise<Record<string, never>> {
    // Checked before the shuffle is registered: a refused appId must leave no entry behind.
    checkPathSegment(appId, 'appId');
    if (this.refuseReservations) throw new BraidError(ErrorCodes.SHUTTING_DOWN, 'this worker is leaving service and takes no new slots');
    // Quotas too: an application over one must leave nothing behind here either.
    this.quotas.checkReserve(appId, shuffleId, files);
    const shuffle = this.registry.getOrCreate(appId, shuffleId);
    const created: FileEntry[] = [];
    // Files are created RESERVE_CONCURRENCY at a time: one by one, a large registration waits on
    // thousands of sequential create round trips to the thread pool.
    let next = 0;
    let stop = false;
    const createNext = async (): Promise<void> => {
      while (next < files.length && !stop) {
        const f = files[next++]!;
        const fileName = locationFileName(f.partitionId, f.epoch, f.mode);
        if (shuffle.files.has(fileName)) continue; // a retried reservation keeps what it has
        const entry: FileEntry = {
          fileName,
          partitionId: f.partitionId,
          epoch: f.epoch,
          mode: f.mode,
          peer: f.peer,
          peerKey: f.peer === undefined ? undefined : addressKey(f.peer),
          splitThreshold: splitThreshold > 0 ? splitThreshold : this.options.splitThreshold,
          writer: undefined,
          committed: undefined,
          committing: undefined,
          bytes: 0,
        };
        entry.writer = await PartitionWriter.create({
          dir: this.dataDirs.pick(),
          appId,
          shuffleId,
          partitionId: f.partitionId,
          epoch: f.epoch,
          mode: f.mode,
          chunkSize: this.options.chunkSize,
          flushThreshold: this.options.flushThreshold,
          memory: this.memory,
          // After a failed write the file moves, with what it holds, to a directory that has room.
          relocate: (bytes, tried) => this.dataDirs.pickFor(bytes, tried),
        });
        if (this.registry.get(shuffle.key) !== shuffle) {
          // The shuffle was deleted while the file was being created: nothing may be left behind.
          await entry.writer.destroy();
          throw new BraidError(ErrorCodes.UNKNOWN_SHUFFLE, `shuffle ${shuffle.key} was deleted during its reservation`);
        }
        shuffle.addFile(entry);
        created.push(entry);
      }
    };
    try {
      const lanes = await Promise.allSettled(
        Array.from({ length: Math.min(RESERVE_CONCURRENCY, files.length) }, () =>
          createNext().catch((err: unknown) => {
            stop = true;
            throw err;
          }),
        ),
      );
      const failed = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      await Promise.all(created.map((e) => this.destroyFile(shuffle, e.fileName)));
      throw new BraidError(ErrorCodes.RESERVE_FAILED, `reserving ${files.length} files of ${shuffle.key} failed: ${(err as Error).message}`, { cause: err });
    }
    return {};
  }

  async commit(appId: string, shuffleId: number, files: FileId[], mapAttempts: number[]): Promise<{ committed: CommittedFileInfo[]; failed: FileId[] }> {
    const shuffle = this.registry.get(`${appId}-${shuffleId}`);
    if (shuffle === undefined) return { committed: [], failed: files };
    if (mapAttempts.length > 0) shuffle.mapAttempts = mapAttempts;
    const committed: CommittedFileInfo[] = [];
    const failed: FileId[] = [];
    await Promise.all(
      files.map(async (f) => {
        const entry = shuffle.file(f.partitionId, f.epoch, f.mode);
        try {
          if (entry === undefined) throw new BraidError(ErrorCodes.UNKNOWN_LOCATION, 'not reserved here');
          const c = await this.commitFile(shuffle, entry, mapAttempts);
          committed.push({ ...f, bytes: c.bytes, chunkOffsets: c.chunkOffsets, mapIds: c.mapIds });
        } catch {
          failed.push(f);
        }
      }),
    );
    return { committed, failed };
  }

  private commitFile(shuffle: ShuffleState, entry: FileEntry, mapAttempts: number[]) {
    if (entry.committed) return Promise.resolve(entry.committed);
    entry.committing ??= (async () => {
      const writer = entry.writer;
      if (writer === undefined) throw new BraidError(ErrorCodes.UNKNOWN_LOCATION, `${entry.fileName} has no writer`);
      const c = await writer.commit();
      const record = { path: c.path, bytes: c.bytes, chunkOffsets: c.chunkOffsets, mapIds: c.mapIds };
      await this.meta.putCommitted(shuffle.appId, shuffle.shuffleId, entry.fileName, { ...record, mapAttempts });
      entry.committed = record;
      entry.writer = undefined;
      return record;
    })().finally(() => {
      entry.committing = undefined;
    });
    return entry.committing;
  }

  /** Commits every file still open (at shutdown): closes it and persists it, so a restarted worker serves it. */
  async commitOpen(): Promise<void> {
    const commits: Promise<unknown>[] = [];
    for (const s of this.registry.all()) {
      for (const e of s.files.values()) {
        if (e.committed === undefined && e.writer !== undefined) commits.push(this.commitFile(s, e, s.mapAttempts ?? []).catch(() => undefined));
      }
    }
    await Promise.all(commits);
  }

  private async destroyFile(shuffle: ShuffleState, fileName: string): Promise<void> {
    const entry = shuffle.files.get(fileName);
    if (entry === undefined) return;
    shuffle.removeFile(fileName);
    await entry.writer?.destroy();
    // A committed file has no writer any more: remove it, its sorted copy and its cached chunks here.
    const committed = entry.committed;
    if (committed) {
      await this.forgetFile(committed.path);
      await rm(committed.path, { force: true });
    }
  }

  /** Deletes every file of a shuffle, its metadata and its cached chunks; false when it was not here. */
  async deleteShuffle(key: string): Promise<boolean> {
    const shuffle = this.registry.delete(key);
    if (shuffle === undefined) return false;
    await Promise.all([...shuffle.files.values()].map((e) => e.writer?.destroy()));
    // Cached chunks and sort indexes are keyed by path: a shuffle id used again must not find them.
    await Promise.all([...shuffle.files.values()].map((e) => (e.committed ? this.forgetFile(e.committed.path) : undefined)));
    await Promise.all([deleteShuffle(this.dataDirs, shuffle.appId, shuffle.shuffleId), this.meta.deleteShuffle(shuffle.appId, shuffle.shuffleId)]);
    return true;
  }

  /** Rebuilds the committed files of a previous run from the metadata store. */
  async reload(): Promise<number> {
    const all = await this.meta.loadAll();
    for (const { appId, shuffleId, fileName, record } of all) {
      const shuffle = this.registry.getOrCreate(appId, shuffleId);
      const m = /^(\d+)-(\d+)-(primary|replica)$/.exec(fileName);
      if (m === null) continue;
      // A destroyed file may keep its record (the store deletes per shuffle only): serve only what is there.
      const size = await stat(record.path).then((st) => st.size, () => -1);
      if (size !== record.bytes) continue;
      // A commit without map attempts (a retry, a shutdown) records none; it must not erase the winners.
      if (record.mapAttempts && record.mapAttempts.length > 0) shuffle.mapAttempts = record.mapAttempts;
      shuffle.addFile({
        fileName,
        partitionId: Number(m[1]),
        epoch: Number(m[2]),
        mode: m[3] === 'primary' ? 0 : 1,
        peer: undefined,
        peerKey: undefined,
        splitThreshold: this.options.splitThreshold,
        writer: undefined,
        committed: { path: record.path, bytes: record.bytes, chunkOffsets: record.chunkOffsets, mapIds: record.mapIds },
        committing: undefined,
        bytes: record.bytes,
      });
    }
    return all.length;
  }
}
