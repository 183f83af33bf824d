import { createHmac, timingSafeEqual } from 'node:crypto';
import { BraidError, ErrorCodes, Role, type Role as RoleId } from '../protocol/index.js';
import type { Connection } from './connection.js';
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

/** True for connections that act for one application (their requests must name it). */
export function isApplicationRole(role: number): boolean {
  return role === Role.Client || role === Role.LifecycleManager;
}

/** Fails unless the connection may act for `appId`: cluster roles may, application roles only for their own. */
export function checkApplication(conn: Connection, appId: string): void {
  if (isApplicationRole(conn.peerRole) && conn.appId !== appId) {
    throw new BraidError(ErrorCodes.WRONG_APP, `a connection of application "${conn.appId}" may not act for "${appId}"`);
  }
}

/** Fails unless the connection declared one of `roles`. */
export function checkRole(conn: Connection, roles: readonly RoleId[], what: string): void {
  if (!roles.includes(conn.peerRole as RoleId)) throw new BraidError(ErrorCodes.INVALID_REQUEST, `${what} is not accepted from role ${conn.peerRole}`);
}
