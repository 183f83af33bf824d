import { BraidError, ErrorCodes } from '../../protocol/errors.js';
import { RECORD_SIZE } from './gensort.js';

/**
 * An order-independent checksum of a multiset of 100-byte records: the
 * record count, the sum of the records' 32-bit hashes mod 2^64, and their XOR.
 *
 * The per-record hash mixes the record's 25 32-bit words (multiply-xorshift,
 * then a murmur3-style finalizer). It replaced CRC32, which as one zlib call
 * per 100-byte record costs ~300 ns; the mix over a Uint32Array view costs
 * ~70 ns. Words are read in the machine's byte order, so checksums compare
 * between processes of one machine (all a job needs), not across machines of
 * different endianness.
 * Sorting or shuffling records leaves it unchanged; a changed record moves
 * the sum, a missing or duplicated one moves the count (and the sum). The
 * checksum of a whole input is the merge of its slices' checksums, so map
 * outputs and reduce outputs can be compared without gathering them.
 *
 * The sum is kept as two u32 halves. The per-record loop adds hashes into a
 * plain number and folds it into the halves every 2^20 records, well before
 * the number could lose precision (2^20 * 2^32 = 2^52).
 */

const TWO_POW_32 = 0x1_0000_0000;
const FOLD_EVERY = 1 << 20;

const WORDS_PER_RECORD = RECORD_SIZE / 4;

function recordHash(words: Uint32Array, at: number): number {
  let h = 0x9e3779b9;
  for (let k = 0; k < WORDS_PER_RECORD; k++) {
    h = Math.imul(h ^ words[at + k]!, 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface RecordChecksumJSON {
  records: number;
  /** Sum of record hashes mod 2^64, 16 lowercase hex digits. */
  sum: string;
  /** XOR of record hashes, 8 lowercase hex digits. */
  xor: string;
}

export class RecordChecksum {
  private count = 0;
  private sumLo = 0;
  private sumHi = 0;
  private xorAll = 0;

  get records(): number {
    return this.count;
  }

  /** Adds every record of `buf`, which must hold whole records. */
  add(buf: Buffer): void {
    if (buf.length % RECORD_SIZE !== 0) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `block of ${buf.length} bytes is not whole ${RECORD_SIZE}-byte records`, {
        retriable: false,
      });
    }
    let pending = 0;
    let pendingRecords = 0;
    let x = this.xorAll;
    // A Uint32Array view needs 4-byte alignment; an unaligned block is copied once.
    const aligned = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf); // copy
    const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
    for (let w = 0; w < words.length; w += WORDS_PER_RECORD) {
      const c = recordHash(words, w);
      pending += c;
      x ^= c;
      if (++pendingRecords === FOLD_EVERY) {
        this.fold(pending);
        pending = 0;
        pendingRecords = 0;
      }
    }
    this.fold(pending);
    this.xorAll = x >>> 0;
    this.count += buf.length / RECORD_SIZE;
  }

  /** Adds another checksum's records to this one (set union as a multiset). */
  merge(other: RecordChecksum): this {
    this.count += other.count;
    this.xorAll = (this.xorAll ^ other.xorAll) >>> 0;
    this.fold(other.sumLo);
    this.sumHi = (this.sumHi + other.sumHi) % TWO_POW_32;
    return this;
  }

  equals(other: RecordChecksum): boolean {
    return this.count === other.count && this.sumLo === other.sumLo && this.sumHi === other.sumHi && this.xorAll === other.xorAll;
  }

  toJSON(): RecordChecksumJSON {
    return {
      records: this.count,
      sum: this.sumHi.toString(16).padStart(8, '0') + this.sumLo.toString(16).padStart(8, '0'),
      xor: this.xorAll.toString(16).padStart(8, '0'),
    };
  }

  static fromJSON(json: RecordChecksumJSON): RecordChecksum {
    const ok =
      Number.isSafeInteger(json.records) && json.records >= 0 && /^[0-9a-f]{16}$/.test(json.sum) && /^[0-9a-f]{8}$/.test(json.xor);
    if (!ok) throw new BraidError(ErrorCodes.INVALID_REQUEST, 'malformed record checksum JSON', { retriable: false });
    const c = new RecordChecksum();
    c.count = json.records;
    c.sumHi = parseInt(json.sum.substring(0, 8), 16);
    c.sumLo = parseInt(json.sum.substring(8), 16);
    c.xorAll = parseInt(json.xor, 16);
    return c;
  }

  /** Adds a non-negative number below 2^53 to the 64-bit sum. */
  private fold(v: number): void {
    const lo = this.sumLo + (v % TWO_POW_32);
    this.sumLo = lo % TWO_POW_32;
    this.sumHi = (this.sumHi + Math.floor(v / TWO_POW_32) + Math.floor(lo / TWO_POW_32)) % TWO_POW_32;
  }
}
