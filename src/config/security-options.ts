/**
 * The security options every server role has (authentication, TLS,
 * connection limits), and how a resolved configuration becomes the
 * programmatic ServerSecurityOptions. Secrets and keys are files: the secret
 * itself is accepted from the environment or a config file, never as a flag.
 */
import { BraidError, ErrorCodes } from '../protocol/index.js';
import { readSecretFile } from '../security/secret-file.js';
import type { ServerSecurityOptions } from '../security/server-security.js';
import type { OptionTable } from './schema.js';

const KIB = 1024;

export interface SecurityConfig {
  /** The cluster secret itself ('' = none); env or config file only. */
  readonly authSecret: string;
  /** A file holding the cluster secret ('' = none). */
  readonly authSecretFile: string;
  readonly insecure: boolean;
  readonly plaintext: boolean;
  readonly tlsCaFile: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** Milliseconds. */
  readonly handshakeTimeout: number;
  /** Milliseconds. */
  readonly unauthenticatedIdleTimeout: number;
  /** Bytes. */
  readonly preAuthFrameLimit: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
}

export const securityOptions: OptionTable<SecurityConfig> = {
  authSecret: {
    kind: 'string',
    default: '',
    secret: true,
    description: 'The cluster secret. Not accepted as a flag (every local user can read command lines): use BRAID_AUTH_SECRET, a config file or --auth-secret-file.',
  },
  authSecretFile: { kind: 'string', default: '', description: 'File holding the cluster secret (chmod 600). Without a secret a server needs the insecure option.' },
  insecure: { kind: 'bool', default: false, description: 'Run without authentication: roles and applications are taken as declared. Only for trusted networks.' },
  plaintext: { kind: 'bool', default: false, description: 'Run without TLS. Without --tls-* files the server refuses to start unless this is set.' },
  tlsCaFile: { kind: 'string', default: '', description: 'PEM file of the CA that signs every Braid certificate (servers and cluster roles are checked against it).' },
  tlsCertFile: { kind: 'string', default: '', description: "PEM file of this server's certificate (also its client certificate towards other servers). SIGHUP reloads it." },
  tlsKeyFile: { kind: 'string', default: '', description: 'PEM file of the private key of --tls-cert-file. SIGHUP reloads it.' },
  handshakeTimeout: { kind: 'duration', default: 10_000, min: 1, description: 'A connection must finish TLS and the handshake within this, or it is closed.' },
  unauthenticatedIdleTimeout: { kind: 'duration', default: 5_000, min: 1, description: 'A connection silent this long before it is authenticated is closed.' },
  preAuthFrameLimit: { kind: 'size', default: 4 * KIB, min: KIB, max: 64 * KIB, description: 'Largest frame accepted before the peer is authenticated.' },
  maxConnections: { kind: 'int', default: 10_000, min: 1, description: 'Open connections at once; more are refused (BRAID_ERR_TOO_MANY_CONNECTIONS).' },
  maxConnectionsPerAddress: { kind: 'int', default: 1_000, min: 1, description: 'Open connections at once from one remote address; more are refused.' },
};

function configError(message: string): BraidError {
  return new BraidError(ErrorCodes.CONFIG, message, { retriable: false });
}

/**
 * The programmatic security options of a resolved role configuration. Reads
 * the secret file; refuses a server with neither TLS files nor --plaintext,
 * and a secret given twice.
 */
export function serverSecurityFrom(c: SecurityConfig): ServerSecurityOptions {
  if (c.authSecret !== '' && c.authSecretFile !== '') throw configError('option "authSecret" and option "authSecretFile" both give the cluster secret; set only one');
  const authSecret = c.authSecretFile !== '' ? readSecretFile(c.authSecretFile, 'option "authSecretFile"') : c.authSecret;
  const anyTls = c.tlsCaFile !== '' || c.tlsCertFile !== '' || c.tlsKeyFile !== '';
  if (anyTls && c.plaintext) throw configError('option "plaintext" contradicts the --tls-* files given; set one or the other');
  if (anyTls && (c.tlsCaFile === '' || c.tlsCertFile === '' || c.tlsKeyFile === '')) {
    throw configError('TLS needs all three of option "tlsCaFile", "tlsCertFile" and "tlsKeyFile" (scripts/dev-certs.sh makes a development set)');
  }
  if (!anyTls && !c.plaintext) {
    throw configError(
      'TLS is not configured: give --tls-ca-file, --tls-cert-file and --tls-key-file (scripts/dev-certs.sh makes a development set), or run without encryption explicitly with --plaintext',
    );
  }
  return {
    authSecret,
    insecure: c.insecure,
    tls: anyTls ? { caFile: c.tlsCaFile, certFile: c.tlsCertFile, keyFile: c.tlsKeyFile } : undefined,
    limits: {
      handshakeTimeoutMs: c.handshakeTimeout,
      unauthenticatedIdleMs: c.unauthenticatedIdleTimeout,
      preAuthFrameBytes: c.preAuthFrameLimit,
      maxConnections: c.maxConnections,
      maxConnectionsPerAddress: c.maxConnectionsPerAddress,
    },
  };
}
