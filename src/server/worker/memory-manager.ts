import type { Logger } from '../../log/index.js';
import { Role } from '../../protocol/index.js';
import type { MemoryTracker } from '../../storage/index.js';
import type { Connection } from '../../transport/index.js';

const PRESSURE_REPEAT_MS = 50;
/** Pauses are logged at most this often; the line counts those in between. */
const PAUSE_LOG_EVERY_MS = 10_000;

export interface MemoryManagerOptions {
  limit: number;
  lowWatermark: number;
  replicaWatermark: number;
  /** Called when the high watermark is crossed: flush what is buffered. */
  onPressure(): void;
}

/**
 * Counts the memory pinned by pushed Buffers held until they are on disk,
 * and turns the total into TCP backpressure: above the limit every client
 * push socket stops being read; replica sockets (primary → replica traffic)
 * stop only above limit × replicaWatermark, so replication keeps draining
 * while clients wait. Reading resumes below limit × lowWatermark.
 */
export class MemoryManager implements MemoryTracker {
  private heldBytes = 0;
  private peakBytes = 0;
  private pushPaused = false;
  private replicaPaused = false;
  private pauseCount = 0;
  private readonly pushConns = new Set<Connection>();
  /** Held batches per backing memory: a frame's memory is freed only when its last batch is. */
  private readonly backing = new Map<ArrayBufferLike, number>();
  /** While paused, flushes are forced again every PRESSURE_REPEAT_MS: data that arrived after the first flush must not sit below its writer's threshold forever. */
  private pressureTimer: NodeJS.Timeout | undefined;
  private readonly replicaConns = new Set<Connection>();
  private log: Logger | undefined;
  private loggedAt = 0;
  private loggedPauses = 0;

  constructor(private readonly options: MemoryManagerOptions) {}

  /** Where pauses are reported (the worker's logger, known once it listens). */
  setLogger(log: Logger): void {
    this.log = log;
  }

  get held(): number {
    return this.heldBytes;
  }

  get peak(): number {
    return this.peakBytes;
  }

  get pauses(): number {
    return this.pauseCount;
  }

  get paused(): boolean {
    return this.pushPaused;
  }

  /** Registers a connection whose reading may be paused; other roles are never paused. */
  track(conn: Connection): void {
    const set = conn.peerRole === Role.Replica ? this.replicaConns : conn.peerRole === Role.Client ? this.pushConns : undefined;
    if (set === undefined) return;
    set.add(conn);
    conn.once('close', () => set.delete(conn));
    if (set === this.pushConns ? this.pushPaused : this.replicaPaused) conn.pauseReading();
  }

  /**
   * Counts the memory a batch really pins: the whole buffer it is a view of
   * (a socket read, or a frame gathered across reads), once, however many
   * batches of it are held.
   */
  acquire(buf: Buffer): void {
    const backing = buf.buffer;
    const refs = this.backing.get(backing);
    if (refs !== undefined) {
      this.backing.set(backing, refs + 1);
      return;
    }
    this.backing.set(backing, 1);
    this.heldBytes += backing.byteLength;
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
    if (this.heldBytes > this.options.limit) this.onHigh();
  }

  release(buf: Buffer): void {
    const backing = buf.buffer;
    const refs = this.backing.get(backing);
    if (refs === undefined) return;
    if (refs > 1) {
      this.backing.set(backing, refs - 1);
      return;
    }
    this.backing.delete(backing);
    this.heldBytes -= backing.byteLength;
    if (this.heldBytes < this.options.limit * this.options.lowWatermark && (this.pushPaused || this.replicaPaused)) this.onLow();
  }

  private onHigh(): void {
    if (!this.pushPaused) {
      this.pushPaused = true;
      this.pauseCount++;
      this.logPause();
      for (const c of this.pushConns) c.pauseReading();
      this.options.onPressure();
      this.pressureTimer = setInterval(() => this.options.onPressure(), PRESSURE_REPEAT_MS);
      this.pressureTimer.unref();
    }
    if (!this.replicaPaused && this.heldBytes > this.options.limit * this.options.replicaWatermark) {
      this.replicaPaused = true;
      for (const c of this.replicaConns) c.pauseReading();
      this.options.onPressure();
    }
  }

  private onLow(): void {
    clearInterval(this.pressureTimer);
    this.pressureTimer = undefined;
    this.pushPaused = false;
    this.replicaPaused = false;
    for (const c of this.replicaConns) c.resumeReading();
    for (const c of this.pushConns) c.resumeReading();
  }

  /** A pause is an event worth a line, but under sustained pressure there are many a second: one line per period, with the count. */
  private logPause(): void {
    const now = Date.now();
    if (this.log === undefined || now - this.loggedAt < PAUSE_LOG_EVERY_MS) return;
    this.log.warn(
      { heldBytes: this.heldBytes, limitBytes: this.options.limit, pausesSinceLastLine: this.pauseCount - this.loggedPauses, pauses: this.pauseCount, connections: this.pushConns.size },
      'memory limit reached: push sockets paused until buffered data is flushed',
    );
    this.loggedAt = now;
    this.loggedPauses = this.pauseCount;
  }

  /** Stops the pressure timer (worker shutdown). */
  stop(): void {
    clearInterval(this.pressureTimer);
    this.pressureTimer = undefined;
  }
}
