import { ProtocolError } from './errors.js';

/**
 * Frame prelude, 12 bytes, big-endian:
 *
 *   prelude := version:u8 type:u8 reserved:u16(=0) headerLength:u32 bodyLength:u32
 *   frame   := prelude header[headerLength] body[bodyLength]
 */
/** 2: challenge-response handshake (HandshakeChallenge, HandshakeProof; no token on the wire). */
export const PROTOCOL_VERSION = 2;
export const PRELUDE_SIZE = 12;

export interface Prelude {
  version: number;
  type: number;
  headerLength: number;
  bodyLength: number;
}

export function writePrelude(buf: Buffer, type: number, headerLength: number, bodyLength: number): void {
  buf[0] = PROTOCOL_VERSION;
  buf[1] = type;
  buf.writeUInt16BE(0, 2);
  buf.writeUInt32BE(headerLength, 4);
  buf.writeUInt32BE(bodyLength, 8);
}

/** Reads a prelude at `at`; the caller guarantees 12 bytes are present. */
export function readPrelude(buf: Buffer, at: number): Prelude {
  const version = buf[at]!;
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(`unsupported protocol version ${version} (this side speaks ${PROTOCOL_VERSION})`);
  }
  if (buf.readUInt16BE(at + 2) !== 0) throw new ProtocolError('reserved prelude bits set');
  return {
    version,
    type: buf[at + 1]!,
    headerLength: buf.readUInt32BE(at + 4),
    bodyLength: buf.readUInt32BE(at + 8),
  };
}
