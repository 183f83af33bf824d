/**
 * Recycled memory for chunks being served. Reading every chunk into new
 * memory costs about as much as the read itself on these machines (the VM
 * hands returned memory back to the host; touching it again runs at
 * ~0.5 GB/s), so chunk buffers go back to a pool once neither the chunk
 * cache nor a socket write holds them.
 *
 * Buffers come in size classes: powers of two from 64 KiB to 1 MiB, then
 * whole MiB. The pool keeps at most `maxIdleBytes` of idle buffers and lets
 * the rest go.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

/** The size class holding `length` bytes. */
export function sizeClass(length: number): number {
  if (length > MiB) return Math.ceil(length / MiB) * MiB;
  let size = 64 * KiB;
  while (size < length) size *= 2;
  return size;
}

/** A chunk and the number of holders (the cache, each socket write in progress). */
export class PooledChunk {
  private refs = 1;

  constructor(
    readonly data: Buffer,
    private readonly backing: Buffer,
    private readonly pool: ChunkPool,
  ) {}

  /** Bytes of memory this chunk pins (its size class), which is what caches must count. */
  get capacity(): number {
    return this.backing.length;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.pool.give(this.backing);
  }
}

export class ChunkPool {
  private readonly idle = new Map<number, Buffer[]>();
  private idleBytes = 0;
  reused = 0;
  allocated = 0;

  constructor(private readonly maxIdleBytes: number) {}

  /** A chunk of `length` bytes with one reference, held by the caller. */
  take(length: number): PooledChunk {
    const size = sizeClass(length);
    const free = this.idle.get(size);
    let backing = free?.pop();
    if (backing !== undefined) {
      this.idleBytes -= size;
      this.reused++;
    } else {
      backing = Buffer.allocUnsafeSlow(size);
      this.allocated++;
    }
    return new PooledChunk(backing.subarray(0, length), backing, this);
  }

  give(backing: Buffer): void {
    if (this.idleBytes + backing.length > this.maxIdleBytes) return;
    let list = this.idle.get(backing.length);
    if (list === undefined) this.idle.set(backing.length, (list = []));
    list.push(backing);
    this.idleBytes += backing.length;
  }
}
