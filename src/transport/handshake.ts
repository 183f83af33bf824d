import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, type Message, type MessageOfType } from '../protocol/index.js';
import type { Connection } from './connection.js';

export type HandshakeMessage = MessageOfType<typeof MessageType.Handshake>;

/** Server-side decision on a handshake: undefined accepts it; an error refuses it with that code. */
export type Authenticator = (handshake: HandshakeMessage) => BraidError | undefined;

/** Accepts every handshake whose token matches `token` (empty: authentication off). */
export function tokenAuthenticator(token: string): Authenticator {
  return (hs) => (token === '' || hs.token === token ? undefined : new BraidError(ErrorCodes.AUTH, 'authentication failed: bad token'));
}

/**
 * Hands the first frame of `conn`, which must be a frame of `type`, to
 * `onFrame` synchronously, inside the decoder's loop, so that the owner can
 * attach its request handling before the next frame of the same read is
 * decoded. Anything else, or nothing within `timeoutMs`, closes the
 * connection and calls `onFail`.
 */
export function onHandshakeFrame<T extends Message['type']>(
  conn: Connection,
  type: T,
  timeoutMs: number,
  onFrame: (message: Extract<Message, { type: T }>) => void,
  onFail: (err: BraidError) => void,
): void {
  const timer = setTimeout(() => {
    const err = new BraidError(ErrorCodes.HANDSHAKE, `no handshake from ${conn.remote} within ${timeoutMs} ms`);
    conn.close(err);
  }, timeoutMs);
  const onClose = (err: BraidError | undefined) => {
    clearTimeout(timer);
    onFail(err ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${conn.remote} closed during handshake`));
  };
  conn.once('close', onClose);
  conn.onControlFrame = (message) => {
    clearTimeout(timer);
    conn.off('close', onClose);
    conn.onControlFrame = undefined;
    if (message.type !== type) {
      const err = new BraidError(ErrorCodes.HANDSHAKE, `expected handshake, got message type ${message.type}`);
      conn.close(err);
      onFail(err);
      return;
    }
    onFrame(message as Extract<Message, { type: T }>);
  };
}

/** onHandshakeFrame as a promise, for a side that has nothing to attach before the frame's answer. */
export function awaitHandshakeFrame<T extends Message['type']>(
  conn: Connection,
  type: T,
  timeoutMs: number,
): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => onHandshakeFrame(conn, type, timeoutMs, resolve, reject));
}

export function versionError(version: number): BraidError | undefined {
  return version === PROTOCOL_VERSION
    ? undefined
    : new BraidError(ErrorCodes.VERSION_MISMATCH, `peer speaks protocol version ${version}, this side ${PROTOCOL_VERSION}`);
}
