import type { AnyCodec, Codec } from '../codec.js';
import type { MessageType } from '../types.js';

/** A frame type: its id, its header codec, and whether it carries an opaque body. */
export interface MessageDef<T extends MessageType, H, B extends boolean> {
  readonly type: T;
  readonly name: string;
  readonly header: Codec<H>;
  readonly hasBody: B;
}

export function defineMessage<T extends MessageType, C extends AnyCodec, B extends boolean>(
  type: T,
  name: string,
  header: C,
  hasBody: B,
): MessageDef<T, C extends Codec<infer H> ? H : never, B> {
  return { type, name, header: header as unknown as Codec<C extends Codec<infer H> ? H : never>, hasBody };
}

/** The decoded (or to-be-encoded) message of a definition: type tag, header fields, body if any. */
export type MessageOf<D> =
  D extends MessageDef<infer T, infer H, infer B> ? { type: T } & H & (B extends true ? { body: Buffer } : unknown) : never;
