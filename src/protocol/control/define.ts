import type { AnyCodec, Codec } from '../codec.js';

/** A control method: its wire id (u16, in RpcRequest/RpcResponse headers) and payload codecs. */
export interface RpcMethod<Req, Res> {
  readonly id: number;
  readonly name: string;
  readonly request: Codec<Req>;
  readonly response: Codec<Res>;
}

type ValueOf<C> = C extends Codec<infer T> ? T : never;

export function defineRpc<Q extends AnyCodec, S extends AnyCodec>(
  id: number,
  name: string,
  request: Q,
  response: S,
): RpcMethod<ValueOf<Q>, ValueOf<S>> {
  return { id, name, request: request as unknown as Codec<ValueOf<Q>>, response: response as unknown as Codec<ValueOf<S>> };
}

export type RequestOf<M> = M extends RpcMethod<infer Q, unknown> ? Q : never;
export type ResponseOf<M> = M extends RpcMethod<unknown, infer S> ? S : never;
