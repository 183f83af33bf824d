import { ProtocolError } from './errors.js';

const MAX_SAFE_HIGH = 0x1f_ffff; // high 32 bits of Number.MAX_SAFE_INTEGER

/**
 * A bounds-checked cursor over one Buffer. Every read that runs past the end
 * throws ProtocolError; `bytes(n)` returns a view (subarray), never a copy.
 * All integers are big-endian (network order).
 */
export class Reader {
  private offset: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.offset = start;
  }

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private take(n: number, what: string): number {
    const at = this.offset;
    if (n < 0 || at + n > this.end) {
      throw new ProtocolError(`truncated ${what}: need ${n} bytes at offset ${at}, have ${this.end - at}`);
    }
    this.offset = at + n;
    return at;
  }

  u8(): number {
    return this.buf[this.take(1, 'u8')]!;
  }

  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new ProtocolError(`bad bool ${v}`);
    return v === 1;
  }

  u16(): number {
    return this.buf.readUInt16BE(this.take(2, 'u16'));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.take(4, 'u32'));
  }

  i32(): number {
    return this.buf.readInt32BE(this.take(4, 'i32'));
  }

  /** A u64 that must fit a JS number (ids, byte counts); larger values are a protocol error. */
  u64(): number {
    const at = this.take(8, 'u64');
    const high = this.buf.readUInt32BE(at);
    if (high > MAX_SAFE_HIGH) throw new ProtocolError(`u64 out of safe range at offset ${at}`);
    return high * 0x1_0000_0000 + this.buf.readUInt32BE(at + 4);
  }

  /** A view of the next n bytes. */
  bytes(n: number): Buffer {
    const at = this.take(n, 'bytes');
    return this.buf.subarray(at, at + n);
  }

  /** u32 length, then that many bytes (a view). */
  lengthPrefixedBytes(): Buffer {
    return this.bytes(this.u32());
  }

  /** u16 length, then UTF-8. */
  string(): string {
    const n = this.u16();
    const at = this.take(n, 'string');
    return this.buf.toString('utf8', at, at + n);
  }

  /** Fails unless the whole input was consumed: trailing bytes are a malformed message. */
  done(what: string): void {
    if (this.offset !== this.end) {
      throw new ProtocolError(`${what}: ${this.end - this.offset} trailing bytes`);
    }
  }
}
