/**
 * The storage layer's view of the worker's memory manager: every byte a
 * writer holds in a pushed Buffer is acquired when appended and released once
 * it is on disk (or dropped). The memory manager implements this interface and
 * turns the running total into socket backpressure (DESIGN.md section 5).
 */
export interface MemoryTracker {
  acquire(bytes: number): void;
  release(bytes: number): void;
}

/** Counts nothing; for tools and tests that do not care about memory. */
export const NOOP_MEMORY: MemoryTracker = Object.freeze({
  acquire(): void {},
  release(): void {},
});
