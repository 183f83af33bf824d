/**
 * The security options every server (master, worker, standalone,
 * LifecycleManager) takes, and their one resolution. Authentication is on by
 * default: a server given neither a secret nor an explicit `insecure`
 * refuses to start, with a message saying how to set one.
 */
import { BraidError, ErrorCodes } from '../protocol/index.js';
import { DEFAULT_SERVER_LIMITS, clusterAuth, type ServerAuth, type ServerLimits } from '../transport/index.js';
import { TlsMaterial, type TlsInput } from './tls.js';

export interface ServerSecurityOptions {
  /** The cluster secret. Required unless `insecure`; see docs/operations.md. */
  authSecret?: string;
  /** Run without authentication: roles and appIds are taken as declared. Default false. */
  insecure?: boolean;
  /** TLS for the listener and every connection this server opens. Default: plaintext. */
  tls?: TlsInput;
  /** Connection limits (defaults: DEFAULT_SERVER_LIMITS). */
  limits?: Partial<ServerLimits>;
}

export interface ServerSecurity {
  /** '' when insecure. */
  readonly secret: string;
  readonly auth: ServerAuth | undefined;
  readonly tls: TlsMaterial | undefined;
  readonly limits: ServerLimits;
}

function configError(message: string): BraidError {
  return new BraidError(ErrorCodes.CONFIG, message, { retriable: false });
}

export const NO_SECRET_HELP =
  'authentication is on by default: give the cluster secret (options.authSecret; --auth-secret-file <file> or BRAID_AUTH_SECRET for the servers and the CLI), ' +
  'or run without authentication explicitly (options.insecure; --insecure)';

/** Checks the security options of a `what` (e.g. "master") and loads its TLS files. */
export function resolveServerSecurity(what: string, o: ServerSecurityOptions): ServerSecurity {
  const secret = o.authSecret ?? '';
  const insecure = o.insecure ?? false;
  if (typeof secret !== 'string') throw configError(`${what}: options.authSecret must be a string`);
  if (typeof insecure !== 'boolean') throw configError(`${what}: options.insecure must be a boolean`);
  if (secret === '' && !insecure) throw configError(`${what} has no cluster secret; ${NO_SECRET_HELP}`);
  if (secret !== '' && insecure) throw configError(`${what}: options.insecure contradicts options.authSecret; set one of them`);
  const limits = { ...DEFAULT_SERVER_LIMITS, ...o.limits };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v <= 0) throw configError(`${what}: options.limits.${k} must be a positive integer, got ${String(v)}`);
  }
  const tls = TlsMaterial.resolve(o.tls);
  if (tls !== undefined && !tls.canServe) throw configError(`${what}: TLS for a server needs a certificate and its key (tlsCertFile, tlsKeyFile)`);
  return { secret, auth: secret === '' ? undefined : clusterAuth(secret), tls, limits };
}
