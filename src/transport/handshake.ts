import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, type Message, type MessageOfType } from '../protocol/index.js';
import type { Connection } from './connection.js';

export type HandshakeMessage = MessageOfType<typeof MessageType.Handshake>;

/** Server-side decision on a handshake: undefined accepts it; an error refuses it with that code. */
export type Authenticator = (handshake: HandshakeMessage) => BraidError | undefined;

/** Accepts every handshake whose token matches `token` (empty: authentication off). */
export function tokenAuthenticator(token: string): Authenticator {
  return (hs) => (token === '' || hs.token === token ? undefined : new BraidError(ErrorCodes.AUTH, 'authentication failed: bad token'));
}

/** Waits for the first frame of `conn`, which must be the expected handshake frame. */
export function awaitHandshakeFrame<T extends Message['type']>(
  conn: Connection,
  type: T,
  timeoutMs: number,
): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new BraidError(ErrorCodes.HANDSHAKE, `no handshake from ${conn.remote} within ${timeoutMs} ms`);
      conn.close(err);
      reject(err);
    }, timeoutMs);
    const onClose = (err: BraidError | undefined) => {
      clearTimeout(timer);
      reject(err ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${conn.remote} closed during handshake`));
    };
    conn.once('close', onClose);
    conn.onControlFrame = (message) => {
      clearTimeout(timer);
      conn.off('close', onClose);
      conn.onControlFrame = undefined;
      if (message.type !== type) {
        const err = new BraidError(ErrorCodes.HANDSHAKE, `expected handshake, got message type ${message.type}`);
        conn.close(err);
        reject(err);
        return;
      }
      resolve(message as Extract<Message, { type: T }>);
    };
  });
}

export function versionError(version: number): BraidError | undefined {
  return version === PROTOCOL_VERSION
    ? undefined
    : new BraidError(ErrorCodes.VERSION_MISMATCH, `peer speaks protocol version ${version}, this side ${PROTOCOL_VERSION}`);
}
