/**
 * A map-sorted partition file and its index, loaded in memory: answers
 * which chunks of the sorted file hold a range of maps.
 */
import { BraidError, ErrorCodes } from '../../protocol/errors.js';
import type { SortedIndex } from './sorted-index.js';

export class SortedFile {
  /** The sorted file (`<source>.sorted`); chunk offsets refer to it. */
  readonly path: string;
  readonly sourcePath: string;
  readonly bytes: number;
  private readonly index: SortedIndex;

  constructor(sourcePath: string, path: string, index: SortedIndex) {
    this.sourcePath = sourcePath;
    this.path = path;
    this.bytes = index.sourceBytes;
    this.index = index;
  }

  get batchCount(): number {
    return this.index.batchOffsets.length - 1;
  }

  /** The distinct mapIds in the file, ascending. */
  get mapIds(): readonly number[] {
    return Array.from(this.index.mapIds);
  }

  /**
   * Chunk boundaries (absolute offsets in the sorted file) covering exactly
   * the batches of maps with startMapIndex <= mapId < endMapIndex. Chunks end
   * on batch boundaries and hold at least `chunkSize` bytes, except the last.
   * An empty range gives one offset (zero chunks).
   */
  range(startMapIndex: number, endMapIndex: number, chunkSize: number): { chunkOffsets: number[] } {
    if (!Number.isInteger(startMapIndex) || !Number.isInteger(endMapIndex) || startMapIndex < 0 || endMapIndex < startMapIndex) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `bad map range [${startMapIndex}, ${endMapIndex})`);
    }
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `chunkSize must be a positive integer, got ${chunkSize}`);
    }
    const { mapIds, mapFirstBatch, batchOffsets } = this.index;
    const firstBatch = mapFirstBatch[lowerBound(mapIds, startMapIndex, 0, mapIds.length)];
    const endBatch = mapFirstBatch[lowerBound(mapIds, endMapIndex, 0, mapIds.length)];
    const end = batchOffsets[endBatch];
    const chunkOffsets = [batchOffsets[firstBatch]];
    let b = firstBatch;
    while (b < endBatch) {
      // The first batch boundary at least chunkSize past the chunk's start, or the range's end.
      const target = batchOffsets[b] + chunkSize;
      b = target >= end ? endBatch : lowerBound(batchOffsets, target, b + 1, endBatch);
      chunkOffsets.push(batchOffsets[b]);
    }
    return { chunkOffsets };
  }
}

function lowerBound(sorted: Uint32Array | Float64Array, v: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
