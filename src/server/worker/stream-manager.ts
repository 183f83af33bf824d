import {
  ALL_MAPS,
  BraidError,
  ErrorCodes,
  MessageType,
  asBraidError,
  type MessageOfType,
} from '../../protocol/index.js';
import { sortedPathOf, type ChunkReader, type MapRangeSorter } from '../../storage/index.js';
import { actsFor, readAllowed, roleName } from '../../security/access.js';
import type { Connection } from '../../transport/index.js';
import type { ChunkCache } from './chunk-cache.js';
import type { ChunkPool } from './chunk-pool.js';
import { appIdOfKey, type CommittedFile, type ShuffleRegistry } from './shuffle-registry.js';
import type { WorkerMetrics } from './worker-metrics.js';

/** A byte range of a file served as one chunk (external shuffle service blocks). */
export interface FileSegment {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/** What the owner of a segment stream hears: its own cap on chunks in flight, and accounting. */
export interface SegmentStreamHooks {
  /** Runs before a chunk is read; a throw refuses the fetch with that error (e.g. SERVER_BUSY). */
  admit(): void;
  /** Runs once for every admitted chunk when its transfer ends: the bytes sent, undefined if it failed. */
  settle(bytes: number | undefined): void;
}

interface FileStream {
  readonly kind: 'file';
  readonly id: number;
  readonly conn: Connection;
  readonly path: string;
  readonly chunkOffsets: number[];
}

/**
 * Chunk i is segments[i]. Not cached: blocks are read once by one reducer,
 * and small ones would pin whole pool buffers in the cache.
 */
interface SegmentStream {
  readonly kind: 'segments';
  readonly id: number;
  readonly conn: Connection;
  readonly segments: readonly FileSegment[];
  readonly hooks: SegmentStreamHooks | undefined;
}

/** Which chunks were sent: a stream is forgotten once every chunk went out once. */
interface Progress {
  readonly sent: Uint8Array;
  left: number;
}

type Stream = (FileStream | SegmentStream) & Progress;

function chunkCount(s: Stream): number {
  return s.kind === 'file' ? s.chunkOffsets.length - 1 : s.segments.length;
}

function chunkAt(s: Stream, i: number): FileSegment {
  if (s.kind === 'segments') return s.segments[i]!;
  const offset = s.chunkOffsets[i]!;
  return { path: s.path, offset, length: s.chunkOffsets[i + 1]! - offset };
}

/**
 * Serves committed files as chunks. OpenStream resolves a file (sorting it by
 * map id first when a map range is asked for) into a stream of batch-aligned
 * chunks; FetchChunk answers from the chunk cache or the file. The number of
 * chunks being transferred at once is capped: past the cap a fetch fails
 * with SERVER_BUSY, which clients retry. Streams die with their connection.
 * Segment streams (openSegments) serve explicit file ranges for the external
 * shuffle service, under its own cap as well as this one.
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
      if (!readAllowed(conn.peerRole)) throw new BraidError(ErrorCodes.FORBIDDEN, `${roleName(conn.peerRole)} connections do not read partitions`);
      if (!actsFor(conn, appIdOfKey(msg.shuffleKey))) {
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
      // The connection may have closed during the sort: its streams are already gone.
      if (conn.isClosed) return;
      const numChunks = Math.max(0, chunkOffsets.length - 1);
      const id = this.register({ kind: 'file', id: this.nextStreamId++, conn, path, chunkOffsets }, numChunks);
      const totalBytes = numChunks === 0 ? 0 : chunkOffsets[numChunks]! - chunkOffsets[0]!;
      conn.reply({ type: MessageType.StreamHandle, requestId: msg.requestId, streamId: id, numChunks, totalBytes });
    } catch (err) {
      conn.replyFailure(msg.requestId, err);
    }
  }

  /** Opens a stream whose chunk i is `segments[i]`, owned by `conn` like any other stream. */
  openSegments(conn: Connection, segments: readonly FileSegment[], hooks?: SegmentStreamHooks): { streamId: number; numChunks: number } {
    if (conn.isClosed) throw new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${conn.remote} is closed`);
    const id = this.register({ kind: 'segments', id: this.nextStreamId++, conn, segments, hooks }, segments.length);
    return { streamId: id, numChunks: segments.length };
  }

  /** Keeps a stream until its connection closes or every chunk has been sent once (long-lived clients open many). */
  private register(s: FileStream | SegmentStream, numChunks: number): number {
    if (numChunks === 0) return s.id; // nothing to fetch: nothing to keep
    this.streams.set(s.id, { ...s, sent: new Uint8Array(numChunks), left: numChunks });
    this.ownedBy(s.conn).add(s.id);
    return s.id;
  }

  private markSent(stream: Stream, index: number): void {
    if (stream.sent[index] === 1) return;
    stream.sent[index] = 1;
    if (--stream.left > 0) return;
    this.streams.delete(stream.id);
    this.byConn.get(stream.conn)?.delete(stream.id);
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
    const numChunks = chunkCount(stream);
    if (!Number.isInteger(chunkIndex) || chunkIndex >= numChunks) {
      return void fail(new BraidError(ErrorCodes.BAD_CHUNK_INDEX, `stream ${streamId} has ${numChunks} chunks, asked for ${chunkIndex}`));
    }
    if (this.transferring >= this.options.maxChunksInFlight) {
      return void fail(new BraidError(ErrorCodes.SERVER_BUSY, `${this.transferring} chunks are being transferred`, { retriable: true }));
    }
    const hooks = stream.kind === 'segments' ? stream.hooks : undefined;
    try {
      hooks?.admit();
    } catch (err) {
      return void fail(err);
    }
    const cacheable = stream.kind === 'file';
    this.transferring++;
    let sent: number | undefined;
    let written: Promise<void> | undefined;
    try {
      const { path, offset, length } = chunkAt(stream, chunkIndex);
      // Keyed by length too: range streams of one sorted file cut chunks at
      // different ends, so two chunks can start at the same offset.
      const key = cacheable ? `${path}@${offset}+${length}` : '';
      let chunk = cacheable ? this.cache.get(key) : undefined;
      if (cacheable) this.metrics.cache(chunk !== undefined);
      if (chunk === undefined) {
        const fresh = this.pool.take(length);
        try {
          await this.reader.readRange(path, offset, length, fresh.data);
        } catch (err) {
          fresh.release();
          throw err;
        }
        if (cacheable) this.cache.set(key, path, fresh);
        chunk = fresh;
      }
      // Our reference goes with the write: the buffer is recycled only after the socket is done with it.
      const held = chunk;
      written = new Promise<void>((resolve) => conn.reply({ type: MessageType.ChunkFetchSuccess, streamId, chunkIndex, body: held.data }, () => {
        held.release();
        resolve();
      }));
      sent = chunk.data.length;
      this.markSent(stream, chunkIndex);
      this.metrics.fetched(chunk.data.length, (performance.now() - started) / 1000);
      // A chunk counts as being transferred until the socket has written it.
      await written;
    } catch (err) {
      fail(err);
    } finally {
      this.transferring--;
      hooks?.settle(sent);
    }
  }

  /** Forgets a committed file about to be deleted: its cached chunks, sorted copy and index, open handles. */
  async forgetFile(path: string): Promise<void> {
    this.cache.dropFile(path);
    this.cache.dropFile(sortedPathOf(path));
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
