import { ProtocolError } from './errors.js';
import { Reader } from './reader.js';
import { Writer, stringSize } from './writer.js';

/**
 * Small typed codec combinators. A message file describes its grammar once as
 * a codec; size, encode and decode all come from that one description, so
 * they cannot drift apart. Sizes are exact: encode allocates once.
 */
export interface Codec<T> {
  size(value: T): number;
  write(w: Writer, value: T): void;
  read(r: Reader): T;
}

export type Infer<C> = C extends Codec<infer T> ? T : never;

/** Arrays longer than this are rejected on decode before anything is built. */
export const MAX_ARRAY_LENGTH = 1 << 24;

export const u8: Codec<number> = { size: () => 1, write: (w, v) => void w.u8(v), read: (r) => r.u8() };
export const u16: Codec<number> = { size: () => 2, write: (w, v) => void w.u16(v), read: (r) => r.u16() };
export const u32: Codec<number> = { size: () => 4, write: (w, v) => void w.u32(v), read: (r) => r.u32() };
export const i32: Codec<number> = { size: () => 4, write: (w, v) => void w.i32(v), read: (r) => r.i32() };
export const u64: Codec<number> = { size: () => 8, write: (w, v) => void w.u64(v), read: (r) => r.u64() };
export const bool: Codec<boolean> = { size: () => 1, write: (w, v) => void w.bool(v), read: (r) => r.bool() };
export const str: Codec<string> = { size: stringSize, write: (w, v) => void w.string(v), read: (r) => r.string() };
/** u32 length + bytes; decodes to a view of the input. */
export const bytes: Codec<Buffer> = {
  size: (v) => 4 + v.length,
  write: (w, v) => void w.lengthPrefixedBytes(v),
  read: (r) => r.lengthPrefixedBytes(),
};

/** u32 count, then the items. */
export function array<T>(item: Codec<T>): Codec<T[]> {
  return {
    size(values) {
      let n = 4;
      for (const v of values) n += item.size(v);
      return n;
    },
    write(w, values) {
      w.u32(values.length);
      for (const v of values) item.write(w, v);
    },
    read(r) {
      const n = r.u32();
      // Every item takes at least one byte, so a count beyond what is left is a lie.
      if (n > MAX_ARRAY_LENGTH || n > r.remaining) throw new ProtocolError(`array length ${n} exceeds input`);
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = item.read(r);
      return out;
    },
  };
}

/** u32 count then packed u32s; decodes to a plain number array. */
export const u32Array: Codec<number[]> = array(u32);
export const i32Array: Codec<number[]> = array(i32);
export const u64Array: Codec<number[]> = array(u64);
export const strArray: Codec<string[]> = array(str);

/** u8 presence flag (0/1), then the value. */
export function optional<T>(item: Codec<T>): Codec<T | undefined> {
  return {
    size: (v) => (v === undefined ? 1 : 1 + item.size(v)),
    write(w, v) {
      w.bool(v !== undefined);
      if (v !== undefined) item.write(w, v);
    },
    read: (r) => (r.bool() ? item.read(r) : undefined),
  };
}

/** Any codec, for constraints: a codec's value type is inferred from its read(). */
export interface AnyCodec {
  size(value: never): number;
  write(w: Writer, value: never): void;
  read(r: Reader): unknown;
}
type StructOf<F> = { [K in keyof F]: F[K] extends Codec<infer T> ? T : never };

/** Fields in declaration order, no tags: the grammar comment of each message lists them. */
export function struct<F extends Record<string, AnyCodec>>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields) as [string, Codec<unknown>][];
  return {
    size(value) {
      let n = 0;
      const v = value as Record<string, unknown>;
      for (const [k, c] of entries) n += c.size(v[k]);
      return n;
    },
    write(w, value) {
      const v = value as Record<string, unknown>;
      for (const [k, c] of entries) c.write(w, v[k]);
    },
    read(r) {
      const out: Record<string, unknown> = {};
      for (const [k, c] of entries) out[k] = c.read(r);
      return out as StructOf<F>;
    },
  };
}

/** A u8 tag restricted to the values of a const enum-like object. */
export function enumU8<T extends number>(allowed: readonly T[], what: string): Codec<T> {
  const set = new Set<number>(allowed);
  return {
    size: () => 1,
    write: (w, v) => void w.u8(v),
    read(r) {
      const v = r.u8();
      if (!set.has(v)) throw new ProtocolError(`bad ${what} ${v}`);
      return v as T;
    },
  };
}

/** Encodes a whole value into one exactly sized Buffer. */
export function encodeValue<T>(codec: Codec<T>, value: T): Buffer {
  const size = codec.size(value);
  const w = new Writer(size);
  codec.write(w, value);
  return w.finish();
}

/** Decodes a whole Buffer; trailing bytes are a protocol error. */
export function decodeValue<T>(codec: Codec<T>, buf: Buffer, what: string): T {
  const r = new Reader(buf);
  const v = codec.read(r);
  r.done(what);
  return v;
}
