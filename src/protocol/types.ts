/**
 * The one table of frame type ids. A frame's type decides the codec of its
 * header; the body is opaque at this layer.
 */
export const MessageType = {
  Handshake: 1,
  HandshakeAck: 2,
  RpcRequest: 3,
  RpcResponse: 4,
  RpcFailure: 5,
  PushData: 6,
  PushMergedData: 7,
  PushResponse: 8,
  OpenStream: 9,
  StreamHandle: 10,
  ChunkFetchRequest: 11,
  ChunkFetchSuccess: 12,
  ChunkFetchFailure: 13,
  Heartbeat: 14,
  HandshakeChallenge: 15,
  HandshakeProof: 16,
} as const;

export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Who is on the other end of a connection, declared in the handshake. */
export const Role = {
  Client: 1,
  Worker: 2,
  Master: 3,
  LifecycleManager: 4,
  /** A primary worker forwarding pushes to its replica peer. */
  Replica: 5,
  Admin: 6,
} as const;

export type Role = (typeof Role)[keyof typeof Role];

export const ALL_ROLES: readonly Role[] = Object.values(Role);

/** Which copy of a partition a location or file is. */
export const Mode = { Primary: 0, Replica: 1 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];
export const ALL_MODES: readonly Mode[] = [Mode.Primary, Mode.Replica];

export function modeName(mode: Mode): 'primary' | 'replica' {
  return mode === Mode.Primary ? 'primary' : 'replica';
}

/** endMapIndex value meaning "to the last map": a whole-partition read. */
export const ALL_MAPS = 0xffff_ffff;
