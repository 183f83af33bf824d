/**
 * The accepting side of the handshake (see handshake.ts for the exchange).
 * It runs inside the connection's decoder loop, synchronously, so that when
 * the proof is accepted the owner attaches its request handling before the
 * next frame of the same read is decoded: a client may pipeline requests
 * behind its proof.
 *
 * What a failed or stalled handshake can cost the server is bounded: frames
 * of a few KiB (preAuthFrameBytes), one HMAC, and a connection that lives at
 * most timeoutMs (idleMs without a byte).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BraidError, ErrorCodes, MessageType, PROTOCOL_VERSION, type Message, type MessageOfType, type Role } from '../protocol/index.js';
import { isClusterRole, isKnownRole, roleName } from '../security/access.js';
import { NONCE_BYTES, handshakeProof, newNonce, proofMatches, type Transcript } from '../security/keys.js';
import type { Connection } from './connection.js';
import { appIdProblem, channelBinding, versionError, type ServerAuth } from './handshake.js';

export interface ServerHandshakeOptions {
  /** This server's role, sent to the client. */
  role: Role;
  /** Roles served here; others are refused. Undefined: every defined role. */
  roles: readonly Role[] | undefined;
  /** Undefined: no authentication. */
  auth: ServerAuth | undefined;
  /** The socket is TLS: cluster roles must then present a client certificate of the CA. */
  tls: boolean;
  timeoutMs: number;
  idleMs: number;
  heartbeatIntervalMs: number;
}

export interface Accepted {
  role: Role;
  appId: string;
}

/**
 * Runs the handshake on `conn`. `onAccepted` is called synchronously once the
 * client is proven (before the ack goes out); `onRefused` once with the
 * reason when the connection is refused, closed or timed out first.
 */
export function serverHandshake(
  conn: Connection,
  socket: Socket,
  o: ServerHandshakeOptions,
  onAccepted: (peer: Accepted) => void,
  onRefused: (err: BraidError) => void,
): void {
  let done = false;
  let pending: { hello: MessageOfType<typeof MessageType.Handshake>; key: string | undefined; transcript: Transcript } | undefined;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;

  const finish = (): void => {
    done = true;
    clearTimeout(timer);
    conn.onControlFrame = undefined;
    conn.off('close', onClose);
  };
  const ack = (ok: boolean, code: string, message: string, proof: Buffer) =>
    conn.send({ type: MessageType.HandshakeAck, version: PROTOCOL_VERSION, role: o.role, ok, code, message, heartbeatIntervalMs: o.heartbeatIntervalMs, proof });
  const refuse = (err: BraidError, tell: boolean): void => {
    finish();
    onRefused(err);
    if (!tell) {
      conn.close(err);
      return;
    }
    ack(false, err.code, err.message, Buffer.alloc(0));
    socket.end();
    // Give the ack a moment to reach the peer, but leave no timer behind once the socket is gone.
    const linger = setTimeout(() => conn.close(err), 1000).unref();
    conn.once('close', () => clearTimeout(linger));
  };
  const onClose = (err: BraidError | undefined): void => {
    if (done) return;
    finish();
    onRefused(err ?? new BraidError(ErrorCodes.CONNECTION_CLOSED, `connection from ${conn.remote} closed during the handshake`));
  };
  conn.once('close', onClose);

  // One timer for both bounds: the whole handshake, and silence within it.
  const check = (): void => {
    const now = Date.now();
    if (now - started >= o.timeoutMs) return refuse(new BraidError(ErrorCodes.HANDSHAKE, `no complete handshake from ${conn.remote} within ${o.timeoutMs} ms`), true);
    const idle = now - conn.lastReceivedAt;
    if (idle >= o.idleMs) return refuse(new BraidError(ErrorCodes.HANDSHAKE, `${conn.remote} sent nothing for ${idle} ms during the handshake`), true);
    timer = setTimeout(check, Math.max(1, Math.min(started + o.timeoutMs, conn.lastReceivedAt + o.idleMs) - now));
  };
  timer = setTimeout(check, Math.min(o.timeoutMs, o.idleMs));

  const onHello = (hello: MessageOfType<typeof MessageType.Handshake>): void => {
    const problem = versionError(hello.version) ?? helloProblem(hello, o, socket);
    if (problem) return refuse(problem, true);
    const role = hello.role as Role;
    const appId = isClusterRole(role) ? '' : hello.appId;
    let key: string | undefined;
    if (o.auth !== undefined) {
      const k = o.auth.keyFor(role, appId);
      if (k instanceof BraidError) return refuse(k, true);
      key = k;
    }
    const nonce = newNonce();
    const transcript: Transcript = { clientRole: role, serverRole: o.role, appId, clientNonce: hello.nonce, serverNonce: nonce, binding: channelBinding(socket) };
    pending = { hello: { ...hello, appId }, key, transcript };
    conn.send({ type: MessageType.HandshakeChallenge, version: PROTOCOL_VERSION, role: o.role, auth: key !== undefined, nonce });
  };

  const onProof = (proof: Buffer): void => {
    const p = pending!;
    let serverProof: Buffer = Buffer.alloc(0);
    if (p.key !== undefined) {
      // The same work for a wrong proof as for a right one: one HMAC, one constant-time compare.
      if (!proofMatches(proof, handshakeProof(p.key, 'client', p.transcript))) {
        const what = isClusterRole(p.hello.role) ? roleName(p.hello.role) : `${roleName(p.hello.role)} of application "${p.hello.appId}"`;
        return refuse(new BraidError(ErrorCodes.AUTH, `authentication failed: ${what} did not prove the ${isClusterRole(p.hello.role) ? 'cluster secret' : "application's key"}`, { retriable: false }), true);
      }
      serverProof = handshakeProof(p.key, 'server', p.transcript);
    }
    finish();
    onAccepted({ role: p.hello.role as Role, appId: p.hello.appId });
    ack(true, '', '', serverProof);
  };

  conn.onControlFrame = (m: Message) => {
    if (m.type === MessageType.Handshake && pending === undefined) return onHello(m);
    if (m.type === MessageType.HandshakeProof && pending !== undefined) return onProof(m.proof);
    refuse(new BraidError(ErrorCodes.HANDSHAKE, `unexpected ${m.type === MessageType.Handshake ? 'second Handshake' : `message type ${m.type}`} during the handshake`), false);
  };
}

/** Why a Handshake is refused before any key is involved, if it is. */
function helloProblem(hello: MessageOfType<typeof MessageType.Handshake>, o: ServerHandshakeOptions, socket: Socket): BraidError | undefined {
  const bad = (message: string) => new BraidError(ErrorCodes.HANDSHAKE, message, { retriable: false });
  if (!isKnownRole(hello.role)) return bad(`unknown role ${hello.role}`);
  if (o.roles !== undefined && !o.roles.includes(hello.role)) return bad(`${roleName(hello.role)} connections are not served by this ${roleName(o.role)}`);
  if (hello.nonce.length !== NONCE_BYTES) return bad(`the handshake nonce must be ${NONCE_BYTES} bytes, got ${hello.nonce.length}`);
  if (!isClusterRole(hello.role)) {
    if (hello.appId === '') return bad(`a ${roleName(hello.role)} connection must name its application`);
    const problem = appIdProblem(hello.appId);
    if (problem) return bad(`application id ${problem}`);
  }
  if (o.tls && isClusterRole(hello.role) && !(socket as TLSSocket).authorized) {
    return new BraidError(ErrorCodes.AUTH, `${roleName(hello.role)} connections must present a client certificate signed by the cluster CA`, { retriable: false });
  }
  return undefined;
}
