/**
 * Who is asking, on the HTTP endpoints. Over HTTPS a client certificate of
 * the cluster CA makes the caller an admin. Otherwise a request carries a
 * signed Authorization header, so the secret or key never crosses the wire:
 *
 *   Authorization: Braid role=<admin|application>, app=<appId>, time=<unix ms>, nonce=<hex>, proof=<hex>
 *   proof = hex(HMAC-SHA256(K, "braid-http-v1" 0 method 0 path 0 role 0 app 0 time 0 nonce))
 *
 * K is the cluster secret for admin, applicationKey(secret, app) for an
 * application. A header is good for MAX_SKEW_MS either side of the server's
 * clock and only once (its nonce is remembered for that long), so a recorded
 * header cannot be replayed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Role } from '../protocol/index.js';
import { applicationKey, proofMatches } from './keys.js';

export const MAX_SKEW_MS = 5 * 60_000;
/** Nonces remembered at once; a flood of fresh headers beyond it is refused rather than remembered. */
const MAX_NONCES = 100_000;

/** The caller of an HTTP request, in the terms status views use. */
export interface HttpViewer {
  readonly peerRole: number;
  readonly appId: string;
}

export type HttpAuthResult = { ok: true; viewer: HttpViewer } | { ok: false; reason: string };

function proofOf(key: string, method: string, path: string, role: string, app: string, time: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(['braid-http-v1', method, path, role, app, time, nonce].join('\0')).digest();
}

/** The Authorization header for one request: as an admin (with the secret) or as `app` (with its key). */
export function signHttpRequest(method: string, path: string, who: { secret: string } | { app: string; key: string }, now = Date.now()): string {
  const role = 'secret' in who ? 'admin' : 'application';
  const app = 'secret' in who ? '' : who.app;
  const key = 'secret' in who ? who.secret : who.key;
  const time = String(now);
  const nonce = randomBytes(16).toString('hex');
  const proof = proofOf(key, method.toUpperCase(), path, role, app, time, nonce).toString('hex');
  return `Braid role=${role}, app=${encodeURIComponent(app)}, time=${time}, nonce=${nonce}, proof=${proof}`;
}

function parse(header: string): Record<string, string> | undefined {
  if (!header.startsWith('Braid ')) return undefined;
  const fields: Record<string, string> = {};
  for (const part of header.slice(6).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    fields[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return fields;
}

export class HttpAuthenticator {
  /** nonce → expiry (insertion order is expiry order: every entry lives MAX_SKEW_MS × 2). */
  private readonly seen = new Map<string, number>();

  constructor(private readonly secret: string) {}

  check(method: string, path: string, header: string | undefined, now = Date.now()): HttpAuthResult {
    if (header === undefined || header === '') return { ok: false, reason: 'no Authorization header (see docs/operations.md, "HTTP endpoints")' };
    const f = parse(header);
    if (f === undefined || !f.role || f.app === undefined || !f.time || !f.nonce || !f.proof) return { ok: false, reason: 'malformed Authorization header' };
    const time = Number(f.time);
    if (!Number.isSafeInteger(time) || Math.abs(now - time) > MAX_SKEW_MS) return { ok: false, reason: 'the Authorization header is too old or from the future (check clocks)' };
    if (!/^[0-9a-f]{16,64}$/.test(f.nonce) || !/^[0-9a-f]{64}$/.test(f.proof)) return { ok: false, reason: 'malformed Authorization header' };
    let app: string;
    try {
      app = decodeURIComponent(f.app);
    } catch {
      return { ok: false, reason: 'malformed Authorization header' };
    }
    if (f.role !== 'admin' && !(f.role === 'application' && app !== '')) return { ok: false, reason: 'unknown role in the Authorization header' };
    const key = f.role === 'admin' ? this.secret : applicationKey(this.secret, app);
    if (!proofMatches(Buffer.from(f.proof, 'hex'), proofOf(key, method.toUpperCase(), path, f.role, app, f.time, f.nonce))) {
      return { ok: false, reason: 'the Authorization header does not prove the key' };
    }
    this.forgetExpired(now);
    if (this.seen.has(f.nonce)) return { ok: false, reason: 'the Authorization header was used before' };
    if (this.seen.size >= MAX_NONCES) return { ok: false, reason: 'too many recent requests; try again' };
    this.seen.set(f.nonce, now + 2 * MAX_SKEW_MS);
    return { ok: true, viewer: f.role === 'admin' ? { peerRole: Role.Admin, appId: '' } : { peerRole: Role.Client, appId: app } };
  }

  private forgetExpired(now: number): void {
    for (const [nonce, expiry] of this.seen) {
      if (expiry > now) break;
      this.seen.delete(nonce);
    }
  }
}
