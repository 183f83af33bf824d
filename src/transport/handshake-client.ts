/**
 * The connecting side of the handshake (see handshake.ts for the exchange).
 * A client with a key insists that the server proves the same key: it will
 * not talk to a server that does not authenticate, or that cannot prove it.
 */
import type { Socket } from 'node:net';
import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, ProtocolError, toErrorCode, type Message, type MessageOfType, type Role } from '../protocol/index.js';
import { handshakeProof, newNonce, proofMatches, type Transcript } from '../security/keys.js';
import type { Connection } from './connection.js';
import { channelBinding, versionError } from './handshake.js';

export interface ClientHandshakeOptions {
  role: Role;
  appId: string;
  /** The cluster secret (cluster roles) or the application key (application roles); undefined: none. */
  key: string | undefined;
  timeoutMs: number;
  /** `host:port`, for messages. */
  server: string;
}

export type HandshakeAck = MessageOfType<typeof MessageType.HandshakeAck>;

/**
 * Runs the handshake; resolves with the server's ack once the server has
 * accepted the client and (with a key) proven itself. `onAccepted` runs
 * synchronously inside the decoder's loop when the ack arrives.
 */
export function clientHandshake(conn: Connection, socket: Socket, o: ClientHandshakeOptions, onAccepted: () => void): Promise<HandshakeAck> {
  return new Promise((resolve, reject) => {
    const nonce = newNonce();
    let transcript: Transcript | undefined;
    const timer = setTimeout(() => fail(new BraidError(ErrorCodes.HANDSHAKE, `no handshake answer from ${o.server} within ${o.timeoutMs} ms`)), o.timeoutMs);
    const onClose = (err: BraidError | undefined) => {
      clearTimeout(timer);
      reject(err ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection to ${o.server} closed during the handshake`));
    };
    conn.once('close', onClose);
    const fail = (err: BraidError): void => {
      clearTimeout(timer);
      conn.off('close', onClose);
      conn.onControlFrame = undefined;
      conn.close(err);
      reject(err);
    };
    const refused = (ack: HandshakeAck) =>
      fail(new BraidError(toErrorCode(ack.code), `handshake refused by ${o.server}: ${ack.message}`));

    const onChallenge = (c: MessageOfType<typeof MessageType.HandshakeChallenge>): void => {
      const mismatch = versionError(c.version);
      if (mismatch) return fail(mismatch);
      if (o.key !== undefined && !c.auth) {
        return fail(new BraidError(ErrorCodes.AUTH, `${o.server} runs without authentication; a client with a key does not trust it`, { retriable: false }));
      }
      transcript = { clientRole: o.role, serverRole: c.role, appId: o.appId, clientNonce: nonce, serverNonce: c.nonce, binding: channelBinding(socket) };
      const proof = o.key === undefined ? Buffer.alloc(0) : handshakeProof(o.key, 'client', transcript);
      conn.send({ type: MessageType.HandshakeProof, proof });
    };

    const onAck = (ack: HandshakeAck): void => {
      if (!ack.ok) return refused(ack);
      const mismatch = versionError(ack.version);
      if (mismatch) return fail(mismatch);
      if (transcript === undefined) return fail(new ProtocolError(`${o.server} accepted the handshake before challenging it`));
      if (o.key !== undefined && !proofMatches(ack.proof, handshakeProof(o.key, 'server', transcript))) {
        return fail(new BraidError(ErrorCodes.AUTH, `${o.server} did not prove the key: it is not the server it claims to be`, { retriable: false }));
      }
      clearTimeout(timer);
      conn.off('close', onClose);
      conn.onControlFrame = undefined;
      onAccepted();
      resolve(ack);
    };

    conn.onControlFrame = (m: Message) => {
      if (m.type === MessageType.HandshakeAck) return onAck(m);
      if (m.type === MessageType.HandshakeChallenge && transcript === undefined) return onChallenge(m);
      fail(new BraidError(ErrorCodes.HANDSHAKE, `unexpected message type ${m.type} from ${o.server} during the handshake`));
    };
    conn.send({ type: MessageType.Handshake, version: PROTOCOL_VERSION, role: o.role, appId: o.appId, nonce });
  });
}
