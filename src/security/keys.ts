/**
 * Keys and proofs of the challenge-response handshake.
 *
 * One cluster secret, held by the cluster roles (master, workers, admin
 * tools). Each application gets its own key, derived from the secret:
 *
 *   applicationKey(secret, appId) = hex(HMAC-SHA256(secret, appId))
 *
 * which the operator (or the embedded cluster) hands to that application
 * only. A key proves its appId and nothing more: it cannot be turned into the
 * secret or another application's key.
 *
 * Both sides prove knowledge of the same key K without sending it:
 *
 *   transcript   = "braid-handshake-v2" 0x00 clientRole:u8 serverRole:u8
 *                  len:u16 appId  len:u16 clientNonce  len:u16 serverNonce  len:u16 binding
 *   client proof = HMAC-SHA256(K, "client" 0x00 transcript)
 *   server proof = HMAC-SHA256(K, "server" 0x00 transcript)
 *
 * K is the secret for cluster roles and applicationKey(secret, appId) for
 * application roles. Fresh nonces on both sides make a recorded proof
 * useless on any other connection; the labels keep a client proof from
 * serving as a server proof. `binding` is TLS keying material exported from
 * the session (empty without TLS): a proof made inside one TLS session does
 * not verify in another.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

export function applicationKey(secret: string, appId: string): string {
  return createHmac('sha256', secret).update(appId).digest('hex');
}

export function newNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

export interface Transcript {
  clientRole: number;
  serverRole: number;
  appId: string;
  clientNonce: Buffer;
  serverNonce: Buffer;
  /** TLS exported keying material, or empty. */
  binding: Buffer;
}

const CONTEXT = Buffer.from('braid-handshake-v2\0');

function encode(t: Transcript): Buffer {
  const parts = [Buffer.from(t.appId, 'utf8'), t.clientNonce, t.serverNonce, t.binding];
  const out = Buffer.alloc(CONTEXT.length + 2 + parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = CONTEXT.copy(out, 0);
  at = out.writeUInt8(t.clientRole & 0xff, at);
  at = out.writeUInt8(t.serverRole & 0xff, at);
  for (const p of parts) {
    at = out.writeUInt16BE(p.length, at);
    at += p.copy(out, at);
  }
  return out;
}

export function handshakeProof(key: string | Buffer, side: 'client' | 'server', t: Transcript): Buffer {
  return createHmac('sha256', key).update(`${side}\0`).update(encode(t)).digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(received: Buffer, expected: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(received, expected);
}
