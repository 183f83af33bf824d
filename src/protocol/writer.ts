import { ErrorCodes, ProtocolError } from './errors.js';

/**
 * Writes into one Buffer allocated up front from a computed size. `finish()`
 * asserts that the encoder filled exactly what was computed, so a size
 * function that disagrees with its encoder fails loudly in tests.
 */
export class Writer {
  readonly buf: Buffer;
  private offset: number;

  constructor(size: number, start = 0, target?: Buffer) {
    this.buf = target ?? Buffer.allocUnsafe(size);
    this.offset = start;
  }

  get position(): number {
    return this.offset;
  }

  u8(v: number): this {
    this.buf[this.offset++] = v;
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  u16(v: number): this {
    this.offset = this.buf.writeUInt16BE(v, this.offset);
    return this;
  }

  u32(v: number): this {
    this.offset = this.buf.writeUInt32BE(v, this.offset);
    return this;
  }

  i32(v: number): this {
    this.offset = this.buf.writeInt32BE(v, this.offset);
    return this;
  }

  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new ProtocolError(`u64 value ${v} is not a safe non-negative integer`, ErrorCodes.ENCODE);
    this.offset = this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.offset);
    this.offset = this.buf.writeUInt32BE(v >>> 0, this.offset);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  lengthPrefixedBytes(b: Uint8Array): this {
    return this.u32(b.length).bytes(b);
  }

  string(s: string): this {
    const n = Buffer.byteLength(s);
    if (n > 0xffff) throw new ProtocolError(`string of ${n} bytes exceeds 65535`, ErrorCodes.ENCODE);
    this.u16(n);
    this.offset += this.buf.write(s, this.offset, 'utf8');
    return this;
  }

  finish(expectedEnd: number = this.buf.length): Buffer {
    if (this.offset !== expectedEnd) {
      throw new ProtocolError(`encoder wrote ${this.offset} bytes, computed ${expectedEnd}`, ErrorCodes.ENCODE);
    }
    return this.buf;
  }
}

export function stringSize(s: string): number {
  return 2 + Buffer.byteLength(s);
}
