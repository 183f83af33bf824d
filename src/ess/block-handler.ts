/**
 * The external shuffle service's side of the worker: executors register
 * where they write map outputs, reducers open streams over blocks of those
 * outputs, the cluster tells it when executors and applications go away.
 *
 * A block is resolved once, at OpenBlocks, to a (data file, offset, length)
 * segment through the map's index (cached); chunk i of the stream is block
 * i, served by the worker's stream manager. Chunks being transferred for
 * this service are capped (maxChunksBeingTransferred): past the cap a fetch
 * fails with SERVER_BUSY, which the client retries.
 *
 * ExecutorRemoved keeps the executor registered: serving the outputs of
 * executors that are gone is what the service is for. It deletes the other
 * files the executor left behind. Registrations go with ApplicationRemoved.
 */
import { join, sep } from 'node:path';
import {
  ApplicationRemoved,
  BraidError,
  ErrorCodes,
  ExecutorRemoved,
  DEFAULT_DECODER_LIMITS,
  GetEssMetrics,
  OpenBlocks,
  RegisterExecutor,
} from '../protocol/index.js';
import type { FileSegment, SegmentStreamHooks } from '../server/worker/stream-manager.js';
import { checkApplication } from '../security/access.js';
import type { Connection, RpcRouter } from '../transport/index.js';
import { parseBlockId } from './block-id.js';
import { ExecutorRegistry, type ExecutorShuffleInfo } from './executor-registry.js';
import { dataFileName, indexFileName, resolveFile } from './file-resolver.js';
import { IndexCache } from './index-cache.js';
import { LocalDirRoots } from './local-dir-roots.js';
import { dataFilesIn, deleteDirs, deleteNonShuffleFiles } from './local-dirs.js';

export interface BlockHandlerOptions {
  /** Where registrations are kept (a LevelDB directory). */
  storePath: string;
  /** Bytes of index files kept in memory. */
  indexCacheBytes: number;
  /** Chunks of this service being transferred at once; past it fetches fail SERVER_BUSY. */
  maxChunksBeingTransferred: number;
  /** Directories no executor may register as a local directory (the worker's own). */
  protectedDirs: readonly string[];
  /** Executors' local directories must lie inside one of these (after symlinks); none: no executor is taken. */
  localDirRoots: readonly string[];
  /** Largest block served (default MAX_BLOCK_BYTES); a block is one chunk frame, so it must fit under the frame limit. */
  maxBlockBytes?: number;
}

/** What the handler needs from the worker: segment streams, and closing handles of files about to be deleted. */
export interface BlockStreams {
  openSegments(conn: Connection, segments: readonly FileSegment[], hooks: SegmentStreamHooks): { streamId: number; numChunks: number };
  forgetFile(path: string): void;
}

export interface EssMetrics {
  registeredExecutors: number;
  applications: number;
  streamsOpened: number;
  blocksOpened: number;
  chunksFetched: number;
  chunksFailed: number;
  bytesFetched: number;
  chunksBeingTransferred: number;
  maxChunksBeingTransferred: number;
  busyRefusals: number;
  nonShuffleFilesDeleted: number;
  indexCache: { bytes: number; maxBytes: number; entries: number; hits: number; misses: number; evictions: number };
}

const DEFAULT_STORE_DIR = '.braid-ess';

/** A block travels as one chunk frame: the default frame limit, less room for the frame's header. */
export const MAX_BLOCK_BYTES = DEFAULT_DECODER_LIMITS.maxFrameSize - 1024 * 1024;

/** The registration store's default location: a dot-directory of the first data directory. */
export function defaultEssStorePath(firstDataDir: string): string {
  return join(firstDataDir, DEFAULT_STORE_DIR);
}

export class BlockHandler {
  private readonly indexes: IndexCache;
  private readonly maxBlockBytes: number;
  private inFlight = 0;
  private readonly counters = { streamsOpened: 0, blocksOpened: 0, chunksFetched: 0, chunksFailed: 0, bytesFetched: 0, busyRefusals: 0, nonShuffleFilesDeleted: 0 };
  private readonly hooks: SegmentStreamHooks = {
    admit: () => {
      if (this.inFlight >= this.options.maxChunksBeingTransferred) {
        this.counters.busyRefusals++;
        throw new BraidError(ErrorCodes.SERVER_BUSY, `${this.inFlight} shuffle service chunks are being transferred`, { retriable: true });
      }
      this.inFlight++;
    },
    settle: (bytes) => {
      this.inFlight--;
      if (bytes === undefined) this.counters.chunksFailed++;
      else {
        this.counters.chunksFetched++;
        this.counters.bytesFetched += bytes;
      }
    },
  };

  private constructor(
    private readonly registry: ExecutorRegistry,
    private readonly roots: LocalDirRoots,
    private readonly streams: BlockStreams,
    private readonly options: BlockHandlerOptions,
  ) {
    this.indexes = new IndexCache(options.indexCacheBytes);
    this.maxBlockBytes = options.maxBlockBytes ?? MAX_BLOCK_BYTES;
  }

  static async open(options: BlockHandlerOptions, streams: BlockStreams): Promise<BlockHandler> {
    const roots = await LocalDirRoots.open(options.localDirRoots);
    const registry = await ExecutorRegistry.open(options.storePath, [...options.protectedDirs, options.storePath], roots);
    return new BlockHandler(registry, roots, streams, options);
  }

  /** Serves the service's RPC methods on `router`; application connections act for their own application only. */
  register(router: RpcRouter): void {
    router
      .on(RegisterExecutor, async (req, conn) => {
        checkApplication(conn, req.appId);
        await this.registerExecutor(req.appId, req.execId, req);
        return {};
      })
      .on(OpenBlocks, (req, conn) => {
        checkApplication(conn, req.appId);
        return this.openBlocks(conn, req.appId, req.execId, req.blockIds);
      })
      .on(ApplicationRemoved, async (req, conn) => {
        checkApplication(conn, req.appId);
        await this.applicationRemoved(req.appId, req.cleanupLocalDirs);
        return {};
      })
      .on(ExecutorRemoved, async (req, conn) => {
        checkApplication(conn, req.appId);
        await this.executorRemoved(req.appId, req.execId);
        return {};
      })
      .on(GetEssMetrics, () => ({ json: Buffer.from(JSON.stringify(this.metrics())) }));
  }

  registerExecutor(appId: string, execId: string, info: ExecutorShuffleInfo): Promise<void> {
    return this.registry.register(appId, execId, info);
  }

  /** Where one block is: its map's data file and the byte range of the reduce partition in it. */
  async getBlockData(appId: string, execId: string, shuffleId: number, mapId: number, reduceId: number): Promise<FileSegment> {
    const exec = this.executor(appId, execId);
    const index = await this.indexes.get(resolveFile(exec, indexFileName(shuffleId, mapId)), resolveFile(exec, dataFileName(shuffleId, mapId)));
    const { offset, length } = index.range(reduceId);
    return { path: index.dataPath, offset, length };
  }

  /** Resolves every block (all or nothing), then opens a stream on `conn` whose chunk i is block i. */
  async openBlocks(conn: Connection, appId: string, execId: string, blockIds: readonly string[]): Promise<{ streamId: number; numChunks: number }> {
    this.executor(appId, execId);
    const ids = blockIds.map(parseBlockId);
    const segments: FileSegment[] = [];
    for (const b of ids) {
      const segment = await this.getBlockData(appId, execId, b.shuffleId, b.mapId, b.reduceId);
      if (segment.length > this.maxBlockBytes) {
        throw new BraidError(ErrorCodes.INVALID_REQUEST, `block shuffle_${b.shuffleId}_${b.mapId}_${b.reduceId} has ${segment.length} bytes, over the ${this.maxBlockBytes} a chunk can carry`);
      }
      segments.push(segment);
    }
    const opened = this.streams.openSegments(conn, segments, this.hooks);
    this.counters.streamsOpened++;
    this.counters.blocksOpened += segments.length;
    return opened;
  }

  /** Forgets the application's executors; with `cleanupLocalDirs`, deletes the directories they registered. */
  async applicationRemoved(appId: string, cleanupLocalDirs: boolean): Promise<void> {
    const removed = await this.registry.removeApp(appId);
    const dirs = [...new Set(removed.flatMap((e) => e.localDirs))];
    for (const d of dirs) this.indexes.dropPrefix(d + sep);
    if (!cleanupLocalDirs || dirs.length === 0) return;
    for (const path of await dataFilesIn(dirs).catch(() => [])) this.streams.forgetFile(path);
    await deleteDirs(dirs, this.roots);
  }

  /** Applications with executors registered here (reported to the master, which says which have expired). */
  appIds(): string[] {
    return this.registry.appIds();
  }

  /** The executor exited: its map outputs stay served; its other files are deleted. */
  async executorRemoved(appId: string, execId: string): Promise<void> {
    const exec = this.registry.get(appId, execId);
    if (exec === undefined) return;
    this.counters.nonShuffleFilesDeleted += await deleteNonShuffleFiles(exec.localDirs, this.roots);
  }

  metrics(): EssMetrics {
    return {
      registeredExecutors: this.registry.size,
      applications: this.registry.applications,
      ...this.counters,
      chunksBeingTransferred: this.inFlight,
      maxChunksBeingTransferred: this.options.maxChunksBeingTransferred,
      indexCache: {
        bytes: this.indexes.bytes,
        maxBytes: this.indexes.maxBytes,
        entries: this.indexes.count,
        hits: this.indexes.hits,
        misses: this.indexes.misses,
        evictions: this.indexes.evictions,
      },
    };
  }

  async close(): Promise<void> {
    await this.registry.close();
  }

  private executor(appId: string, execId: string): ExecutorShuffleInfo {
    const exec = this.registry.get(appId, execId);
    if (exec === undefined) throw new BraidError(ErrorCodes.INVALID_REQUEST, `executor ${JSON.stringify(execId)} of application ${JSON.stringify(appId)} is not registered`);
    return exec;
  }
}
