import { BraidError, ErrorCodes } from '../../protocol/errors.js';
import { KEY_SIZE, RECORD_SIZE } from './gensort.js';

/**
 * Range partitioning of 10-byte keys into R partitions, as TeraSort needs it:
 * the partition number never decreases as the key grows, so every key of
 * partition i is below every key of partition i + 1 and the sorted partitions,
 * read in order, are the sorted input.
 *
 * Keys are compared as unsigned bytes (Buffer.compare order). Internally a key
 * is three numbers, bytes 0-3, 4-7 and 8-9 as unsigned big-endian integers,
 * so the per-record binary search is plain number comparisons.
 */

/** Above this R, u32 * R could exceed 2^53 in the uniform scaling. */
const MAX_PARTITIONS = 1 << 21;
const TWO_POW_32 = 0x1_0000_0000;

function invalid(message: string): BraidError {
  return new BraidError(ErrorCodes.INVALID_REQUEST, message, { retriable: false });
}

function checkPartitions(r: number): void {
  if (!Number.isSafeInteger(r) || r < 1 || r > MAX_PARTITIONS) {
    throw invalid(`number of partitions must be an integer in [1, ${MAX_PARTITIONS}], got ${r}`);
  }
}

function word0(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function word1(b: Buffer, o: number): number {
  return word0(b, o + 4);
}

function word2(b: Buffer, o: number): number {
  return (b[o + 8]! << 8) | b[o + 9]!;
}

export class KeyRangePartitioner {
  readonly numPartitions: number;
  /** Split point j (j = 0..R-2) is the smallest key of partition j + 1. Null for uniform. */
  private readonly s0: Uint32Array | null;
  private readonly s1: Uint32Array | null;
  private readonly s2: Uint16Array | null;

  private constructor(numPartitions: number, splits: Buffer[] | null) {
    this.numPartitions = numPartitions;
    if (splits === null) {
      this.s0 = this.s1 = this.s2 = null;
      return;
    }
    const n = splits.length;
    this.s0 = new Uint32Array(n);
    this.s1 = new Uint32Array(n);
    this.s2 = new Uint16Array(n);
    for (let j = 0; j < n; j++) {
      const k = splits[j]!;
      this.s0[j] = word0(k, 0);
      this.s1[j] = word1(k, 0);
      this.s2[j] = word2(k, 0);
    }
  }

  /**
   * Equal-width ranges over the first 4 key bytes read as an unsigned
   * integer: partition = floor(u32 * R / 2^32). Right for uniformly random
   * keys such as gensort's.
   */
  static uniform(numPartitions: number): KeyRangePartitioner {
    checkPartitions(numPartitions);
    return new KeyRangePartitioner(numPartitions, null);
  }

  /**
   * Ranges from a sample of keys (each Buffer's first 10 bytes; records are
   * fine). The sample is sorted and the R - 1 split points are its quantiles;
   * a key goes to the number of split points that are <= it, so equal keys
   * always share a partition. Skewed samples may repeat a split point, which
   * leaves a partition empty, never out of order.
   */
  static fromSample(keys: Buffer[], numPartitions: number): KeyRangePartitioner {
    checkPartitions(numPartitions);
    if (numPartitions === 1) return new KeyRangePartitioner(1, []);
    if (keys.length === 0) throw invalid('fromSample needs at least one sampled key');
    const sorted = keys.map((k, i) => {
      if (k.length < KEY_SIZE) throw invalid(`sampled key ${i} has ${k.length} bytes, ${KEY_SIZE} needed`);
      return k.subarray(0, KEY_SIZE);
    });
    sorted.sort(Buffer.compare);
    const splits: Buffer[] = [];
    for (let j = 1; j < numPartitions; j++) {
      splits.push(sorted[Math.floor((j * sorted.length) / numPartitions)]!);
    }
    return new KeyRangePartitioner(numPartitions, splits);
  }

  /**
   * Rebuilds a partitioner from `splitPoints()` of another, so the driver can
   * sample once and ship the split points to every map task.
   */
  static fromSplitPoints(splits: Buffer[]): KeyRangePartitioner {
    checkPartitions(splits.length + 1);
    for (let j = 0; j < splits.length; j++) {
      if (splits[j]!.length < KEY_SIZE) throw invalid(`split point ${j} has ${splits[j]!.length} bytes, ${KEY_SIZE} needed`);
      if (j > 0 && Buffer.compare(splits[j - 1]!.subarray(0, KEY_SIZE), splits[j]!.subarray(0, KEY_SIZE)) > 0) {
        throw invalid(`split points are not sorted at ${j}`);
      }
    }
    return new KeyRangePartitioner(splits.length + 1, splits);
  }

  /**
   * Evenly spaced sample of up to `maxSamples` keys from a block of records,
   * copied so the block may be reused.
   */
  static sampleKeys(records: Buffer, maxSamples: number): Buffer[] {
    if (records.length % RECORD_SIZE !== 0) throw invalid(`block of ${records.length} bytes is not whole records`);
    const n = records.length / RECORD_SIZE;
    const take = Math.min(n, Math.max(0, Math.floor(maxSamples)));
    const out: Buffer[] = [];
    for (let i = 0; i < take; i++) {
      const o = Math.floor((i * n) / take) * RECORD_SIZE;
      out.push(Buffer.from(records.subarray(o, o + KEY_SIZE))); // copy
    }
    return out;
  }

  /** The R - 1 split points (empty for uniform), as fresh 10-byte Buffers. */
  splitPoints(): Buffer[] {
    if (this.s0 === null || this.s1 === null || this.s2 === null) {
      // Uniform partition p starts at ceil(p * 2^32 / R) in the first word.
      const out: Buffer[] = [];
      for (let p = 1; p < this.numPartitions; p++) {
        const k = Buffer.alloc(KEY_SIZE);
        k.writeUInt32BE(Math.ceil((p * TWO_POW_32) / this.numPartitions), 0);
        out.push(k);
      }
      return out;
    }
    const out: Buffer[] = [];
    for (let j = 0; j < this.s0.length; j++) {
      const k = Buffer.allocUnsafe(KEY_SIZE);
      k.writeUInt32BE(this.s0[j]!, 0);
      k.writeUInt32BE(this.s1[j]!, 4);
      k.writeUInt16BE(this.s2[j]!, 8);
      out.push(k);
    }
    return out;
  }

  /** Partition of the record (or bare key) whose key starts at `offset`. */
  partition(record: Buffer, offset: number): number {
    const k0 = word0(record, offset);
    const s0 = this.s0;
    if (s0 === null) return Math.floor((k0 * this.numPartitions) / TWO_POW_32);
    const s1 = this.s1!;
    const s2 = this.s2!;
    const k1 = word1(record, offset);
    const k2 = word2(record, offset);
    // Upper bound: the number of split points <= key.
    let lo = 0;
    let hi = s0.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const a = s0[mid]!;
      let splitLE: boolean;
      if (a !== k0) splitLE = a < k0;
      else {
        const b = s1[mid]!;
        splitLE = b !== k1 ? b < k1 : s2[mid]! <= k2;
      }
      if (splitLE) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
