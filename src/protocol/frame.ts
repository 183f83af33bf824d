import { ErrorCodes, ProtocolError } from './errors.js';
import { ChunkFetchFailure } from './messages/chunk-fetch-failure.js';
import { ChunkFetchRequest } from './messages/chunk-fetch-request.js';
import { ChunkFetchSuccess } from './messages/chunk-fetch-success.js';
import type { MessageDef, MessageOf } from './messages/define.js';
import { Handshake } from './messages/handshake.js';
import { HandshakeAck } from './messages/handshake-ack.js';
import { HandshakeChallenge } from './messages/handshake-challenge.js';
import { HandshakeProof } from './messages/handshake-proof.js';
import { Heartbeat } from './messages/heartbeat.js';
import { OpenStream } from './messages/open-stream.js';
import { PushData } from './messages/push-data.js';
import { PushMergedData, validateMergedOffsets } from './messages/push-merged-data.js';
import { PushResponse } from './messages/push-response.js';
import { RpcFailure } from './messages/rpc-failure.js';
import { RpcRequest } from './messages/rpc-request.js';
import { RpcResponse } from './messages/rpc-response.js';
import { StreamHandle } from './messages/stream-handle.js';
import { PRELUDE_SIZE, writePrelude } from './prelude.js';
import { Reader } from './reader.js';
import { MessageType } from './types.js';
import { Writer } from './writer.js';

export const MESSAGES = {
  [MessageType.Handshake]: Handshake,
  [MessageType.HandshakeAck]: HandshakeAck,
  [MessageType.RpcRequest]: RpcRequest,
  [MessageType.RpcResponse]: RpcResponse,
  [MessageType.RpcFailure]: RpcFailure,
  [MessageType.PushData]: PushData,
  [MessageType.PushMergedData]: PushMergedData,
  [MessageType.PushResponse]: PushResponse,
  [MessageType.OpenStream]: OpenStream,
  [MessageType.StreamHandle]: StreamHandle,
  [MessageType.ChunkFetchRequest]: ChunkFetchRequest,
  [MessageType.ChunkFetchSuccess]: ChunkFetchSuccess,
  [MessageType.ChunkFetchFailure]: ChunkFetchFailure,
  [MessageType.Heartbeat]: Heartbeat,
  [MessageType.HandshakeChallenge]: HandshakeChallenge,
  [MessageType.HandshakeProof]: HandshakeProof,
} as const;

type Defs = typeof MESSAGES;
/** Any frame-level message, discriminated by `type`. */
export type Message = { [K in keyof Defs]: MessageOf<Defs[K]> }[keyof Defs];
/** The message of one frame type. */
export type MessageOfType<T extends MessageType> = Extract<Message, { type: T }>;

type AnyDef = MessageDef<MessageType, unknown, boolean>;

function defOf(type: number): AnyDef {
  const def = (MESSAGES as Record<number, AnyDef | undefined>)[type];
  if (def === undefined) throw new ProtocolError(`unknown message type ${type}`, ErrorCodes.UNKNOWN_MESSAGE);
  return def;
}

export function messageName(type: number): string {
  return (MESSAGES as Record<number, AnyDef | undefined>)[type]?.name ?? `type ${type}`;
}

/**
 * An encoded frame: prelude + header in one exactly sized Buffer, and the
 * body as its own Buffer. They are written back to back; the body is never
 * copied into the header buffer.
 */
export interface EncodedFrame {
  head: Buffer;
  body: Buffer | undefined;
}

export function encodeFrame(message: Message): EncodedFrame {
  const def = defOf(message.type);
  const headerLength = def.header.size(message);
  const body = def.hasBody ? (message as { body: Buffer }).body : undefined;
  const head = Buffer.allocUnsafe(PRELUDE_SIZE + headerLength);
  writePrelude(head, message.type, headerLength, body?.length ?? 0);
  const w = new Writer(head.length, PRELUDE_SIZE, head);
  def.header.write(w, message);
  w.finish();
  return { head, body };
}

/** Builds a typed message from a frame's parts. Throws ProtocolError on any malformed header. */
export function decodeMessage(type: number, header: Buffer, body: Buffer): Message {
  const def = defOf(type);
  const r = new Reader(header);
  const fields = def.header.read(r) as Record<string, unknown>;
  r.done(def.name);
  if (!def.hasBody && body.length !== 0) throw new ProtocolError(`${def.name} must not carry a body`);
  const message = { type, ...fields } as Record<string, unknown>;
  if (def.hasBody) message.body = body;
  if (type === MessageType.PushMergedData) {
    const m = message as MessageOfType<typeof MessageType.PushMergedData>;
    validateMergedOffsets(m.partitionIds, m.epochs, m.offsets, body.length);
  }
  return message as Message;
}
