/**
 * What both sides of the handshake share: who may prove what with which key,
 * the frame limits before authentication, and the TLS channel binding. The
 * two state machines are in handshake-server.ts and handshake-client.ts; the
 * exchange is
 *
 *   client                               server
 *   Handshake(role, appId, nonceC)   →
 *                                    ←   HandshakeChallenge(auth, nonceS)   (or HandshakeAck refusing)
 *   HandshakeProof(proofC)           →   [requests may follow at once]
 *                                    ←   HandshakeAck(ok, proofS)           (or a refusal)
 *
 * with the proofs of src/security/keys.ts: no key or token ever crosses the
 * wire, and each side proves it holds the key for this connection only.
 */
import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { BraidError, ErrorCodes, PROTOCOL_VERSION, type DecoderLimits, type MessageOfType, type MessageType, type Role } from '../protocol/index.js';
import { isClusterRole, roleName } from '../security/access.js';
import { applicationKey } from '../security/keys.js';

export type HandshakeMessage = MessageOfType<typeof MessageType.Handshake>;

/**
 * A server's authentication: the key a connection of `role` acting for
 * `appId` must prove, or an error refusing it outright. A server without one
 * runs without authentication (roles and appIds taken as declared).
 */
export interface ServerAuth {
  keyFor(role: Role, appId: string): string | BraidError;
}

/** Master and workers: cluster roles prove the secret, application roles their application's key. */
export function clusterAuth(secret: string): ServerAuth {
  if (secret === '') throw new BraidError(ErrorCodes.CONFIG, 'clusterAuth needs a non-empty secret', { retriable: false });
  return { keyFor: (role, appId) => (isClusterRole(role) ? secret : applicationKey(secret, appId)) };
}

/** A LifecycleManager: only its own application's connections, proving its key. */
export function applicationAuth(appId: string, key: string): ServerAuth {
  return {
    keyFor: (role, claimed) =>
      isClusterRole(role) || claimed !== appId
        ? new BraidError(ErrorCodes.WRONG_APP, `${roleName(role)} of application "${claimed}" refused: this server serves application "${appId}" only`, { retriable: false })
        : key,
  };
}

/**
 * Frames before authentication are handshake frames, a few hundred bytes: a
 * peer that has proven nothing may make the decoder hold no more than this.
 */
export const DEFAULT_PRE_AUTH_FRAME_BYTES = 4096;

export function preAuthLimits(bytes: number): DecoderLimits {
  return { maxFrameSize: bytes, maxHeaderSize: bytes };
}

/** An appId is a name: printable, no separators a path or a transcript could confuse, at most 255 bytes. */
export function appIdProblem(appId: string): string | undefined {
  if (Buffer.byteLength(appId) > 255) return 'is longer than 255 bytes';
  if (/[\u0000-\u001f\u007f/\\]/.test(appId)) return 'contains a control character or a path separator';
  return undefined;
}

const BINDING_LABEL = 'EXPORTER-braid-handshake';

/** TLS keying material unique to this session (empty on a plain socket): proofs are bound to the session. */
export function channelBinding(socket: Socket): Buffer {
  return socket instanceof TLSSocket ? socket.exportKeyingMaterial(32, BINDING_LABEL, Buffer.alloc(0)) : Buffer.alloc(0);
}

export function versionError(version: number): BraidError | undefined {
  return version === PROTOCOL_VERSION
    ? undefined
    : new BraidError(ErrorCodes.VERSION_MISMATCH, `peer speaks protocol version ${version}, this side ${PROTOCOL_VERSION}`);
}
