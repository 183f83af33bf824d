import {
  ALL_MAPS,
  BraidError,
  ErrorCodes,
  MessageType,
  asBraidError,
  type MessageOfType,
} from '../../protocol/index.js';
import { sortedPathOf, type ChunkReader, type MapRangeSorter } from '../../storage/index.js';
import { isApplicationRole, type Connection } from '../../transport/index.js';
import type { ChunkCache } from './chunk-cache.js';
import type { ChunkPool } from './chunk-pool.js';
import { appIdOfKey, type CommittedFile, type ShuffleRegistry } from './shuffle-registry.js';
import type { WorkerMetrics } from './worker-metrics.js';

interface Stream {
  readonly id: number;
  readonly conn: Connection;
  readonly path: string;
  readonly chunkOffsets: number[];
}

/**
 * Serves committed files as chunks. OpenStream resolves a file (sorting it by
 * map id first when a map range is asked for) into a stream of batch-aligned
 * chunks; FetchChunk answers from the chunk cache or the file. The number of
 * chunks being transferred at once is capped: past the cap a fetch fails
 * with SERVER_BUSY, which clients retry. Streams die with their connection.
 */
export class StreamManager {
  private nextStreamId = 1;
  private readonly streams = new Map<number, Stream>();
  private readonly byConn = new Map<Connection, Set<number>>();
  private transferring = 0;

  constructor(
    private readonly registry: ShuffleRegistry,
    private readonly sorter: MapRangeSorter,
    private readonly cache: ChunkCache,
    private readonly pool: ChunkPool,
    private readonly reader: ChunkReader,
    private readonly options: { chunkSize: number; maxChunksInFlight: number },
    private readonly metrics: WorkerMetrics,
  ) {}

  get openStreams(): number {
    return this.streams.size;
  }

  get chunksInFlight(): number {
    return this.transferring;
  }

  async open(msg: MessageOfType<typeof MessageType.OpenStream>, conn: Connection): Promise<void> {
    try {
      if (isApplicationRole(conn.peerRole) && appIdOfKey(msg.shuffleKey) !== conn.appId) {
        throw new BraidError(ErrorCodes.WRONG_APP, `application ${conn.appId} may not read ${msg.shuffleKey}`);
      }
      const file = this.committedFile(msg.shuffleKey, msg.fileName);
      let path = file.path;
      let chunkOffsets = file.chunkOffsets;
      const whole = msg.startMapIndex === 0 && msg.endMapIndex === ALL_MAPS;
      if (!whole) {
        if (msg.endMapIndex <= msg.startMapIndex) throw new BraidError(ErrorCodes.INVALID_REQUEST, `empty map range [${msg.startMapIndex}, ${msg.endMapIndex})`);
        const sorted = await this.sorter.getSorted({ path: file.path, bytes: file.bytes });
        path = sorted.path;
        chunkOffsets = sorted.range(msg.startMapIndex, msg.endMapIndex, this.options.chunkSize).chunkOffsets;
      }
      const id = this.nextStreamId++;
      this.streams.set(id, { id, conn, path, chunkOffsets });
      this.ownedBy(conn).add(id);
      const numChunks = Math.max(0, chunkOffsets.length - 1);
      const totalBytes = numChunks === 0 ? 0 : chunkOffsets[numChunks]! - chunkOffsets[0]!;
      conn.reply({ type: MessageType.StreamHandle, requestId: msg.requestId, streamId: id, numChunks, totalBytes });
    } catch (err) {
      conn.replyFailure(msg.requestId, err);
    }
  }

  async fetch(msg: MessageOfType<typeof MessageType.ChunkFetchRequest>, conn: Connection): Promise<void> {
    const { streamId, chunkIndex } = msg;
    const started = performance.now();
    const fail = (err: unknown) => {
      const e = asBraidError(err, ErrorCodes.READ_FAILED);
      conn.reply({ type: MessageType.ChunkFetchFailure, streamId, chunkIndex, code: e.code, message: e.message, retriable: e.retriable });
    };
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.conn !== conn) return void fail(new BraidError(ErrorCodes.UNKNOWN_STREAM, `no stream ${streamId} on this connection`));
    if (!Number.isInteger(chunkIndex) || chunkIndex >= stream.chunkOffsets.length - 1) {
      return void fail(new BraidError(ErrorCodes.BAD_CHUNK_INDEX, `stream ${streamId} has ${stream.chunkOffsets.length - 1} chunks, asked for ${chunkIndex}`));
    }
    if (this.transferring >= this.options.maxChunksInFlight) {
      return void fail(new BraidError(ErrorCodes.SERVER_BUSY, `${this.transferring} chunks are being transferred`, { retriable: true }));
    }
    this.transferring++;
    let written: Promise<void> | undefined;
    try {
      const offset = stream.chunkOffsets[chunkIndex]!;
      const length = stream.chunkOffsets[chunkIndex + 1]! - offset;
      // Keyed by length too: range streams of one sorted file cut chunks at
      // different ends, so two chunks can start at the same offset.
      const key = `${stream.path}@${offset}+${length}`;
      let chunk = this.cache.get(key);
      this.metrics.cache(chunk !== undefined);
      if (chunk === undefined) {
        const fresh = this.pool.take(length);
        try {
          await this.reader.readRange(stream.path, offset, length, fresh.data);
        } catch (err) {
          fresh.release();
          throw err;
        }
        this.cache.set(key, fresh);
        chunk = fresh;
      }
      // Our reference goes with the write: the buffer is recycled only after the socket is done with it.
      const held = chunk;
      written = new Promise<void>((resolve) => conn.reply({ type: MessageType.ChunkFetchSuccess, streamId, chunkIndex, body: held.data }, () => {
        held.release();
        resolve();
      }));
      this.metrics.fetched(chunk.data.length, (performance.now() - started) / 1000);
      // A chunk counts as being transferred until the socket has written it.
      await written;
    } catch (err) {
      fail(err);
    } finally {
      this.transferring--;
    }
  }

  /** Forgets a committed file about to be deleted: its cached chunks, sorted copy and index, open handles. */
  async forgetFile(path: string): Promise<void> {
    this.cache.dropPrefix(path);
    this.reader.forget(path);
    this.reader.forget(sortedPathOf(path));
    await this.sorter.forget(path);
  }

  private ownedBy(conn: Connection): Set<number> {
    let ids = this.byConn.get(conn);
    if (ids === undefined) {
      const owned = (ids = new Set());
      this.byConn.set(conn, owned);
      conn.once('close', () => {
        for (const id of owned) this.streams.delete(id);
        this.byConn.delete(conn);
      });
    }
    return ids;
  }

  private committedFile(key: string, fileName: string): CommittedFile {
    const shuffle = this.registry.get(key);
    if (shuffle === undefined) throw new BraidError(ErrorCodes.UNKNOWN_SHUFFLE, `unknown shuffle ${key}`);
    const entry = shuffle.files.get(fileName);
    if (entry === undefined) throw new BraidError(ErrorCodes.UNKNOWN_FILE, `unknown file ${fileName} of shuffle ${key}`);
    if (entry.committed === undefined) throw new BraidError(ErrorCodes.UNKNOWN_FILE, `file ${fileName} of shuffle ${key} is not committed`, { retriable: true });
    return entry.committed;
  }
}
