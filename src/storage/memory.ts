/**
 * The storage layer's view of the worker's memory manager: every pushed
 * Buffer a writer holds is acquired when appended and released once it is on
 * disk (or dropped). Buffers rather than byte counts, so the tracker can count
 * the memory they really pin (a batch may be a view of a larger frame). The memory manager implements this interface and
 * turns the running total into socket backpressure (DESIGN.md section 5).
 */
export interface MemoryTracker {
  /** The writer now holds `buf` (a view of some larger memory, perhaps). */
  acquire(buf: Buffer): void;
  /** The writer let go of `buf`: it is on disk, or dropped. */
  release(buf: Buffer): void;
}

/** Counts nothing; for tools and tests that do not care about memory. */
export const NOOP_MEMORY: MemoryTracker = Object.freeze({
  acquire(): void {},
  release(): void {},
});
