import { createHmac, timingSafeEqual } from 'node:crypto';
import { BraidError, ErrorCodes, Role } from '../protocol/index.js';
import type { Authenticator } from './handshake.js';

/**
 * Authentication with one cluster secret:
 *
 * - cluster roles (Worker, Master, Replica, Admin) present the secret itself;
 * - an application's LifecycleManager and clients present its application
 *   token, HMAC-SHA256(secret, appId) in hex, which the operator hands to that
 *   application only. (The secret is accepted from them too: its holder is
 *   trusted with every application.)
 *
 * A connection's appId is then proven, and every server checks that requests
 * of application roles name their own application only. With an empty secret
 * authentication is off and roles and appIds are taken as declared.
 */
export function applicationToken(secret: string, appId: string): string {
  return createHmac('sha256', secret).update(appId).digest('hex');
}

const CLUSTER_ROLES: ReadonlySet<number> = new Set<number>([Role.Worker, Role.Master, Role.Replica, Role.Admin]);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function clusterAuthenticator(secret: string): Authenticator {
  return (hs) => {
    if (secret === '') return undefined;
    if (same(hs.token, secret)) return undefined;
    if (!CLUSTER_ROLES.has(hs.role) && hs.appId !== '' && same(hs.token, applicationToken(secret, hs.appId))) return undefined;
    return new BraidError(ErrorCodes.AUTH, `authentication failed for role ${hs.role}${hs.appId ? ` of application ${hs.appId}` : ''}`);
  };
}
