/**
 * Benchmarks run with authentication on, as production does: one random
 * cluster secret per benchmark run, handed to the peer processes through the
 * environment (never their command lines), and per-application keys derived
 * from it. TLS is on where a benchmark asks for it (transport.push.tls
 * measures its cost, ha.failover runs as a secure cluster would), with a
 * development CA made for that benchmark (benchCerts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applicationKey } from '../../src/security/keys.js';
import { randomSecret } from '../../src/security/secret-file.js';
import type { TlsFiles } from '../../src/security/tls.js';

export const BENCH_SECRET_ENV = 'BRAID_BENCH_SECRET';

/** The run's cluster secret; made on first use and inherited by every peer spawned after that. */
export function benchSecret(): string {
  const existing = process.env[BENCH_SECRET_ENV];
  if (existing !== undefined && existing !== '') return existing;
  const secret = randomSecret();
  process.env[BENCH_SECRET_ENV] = secret;
  return secret;
}

/** The key of `appId` under the run's secret. */
export function benchAppKey(appId: string): string {
  return applicationKey(benchSecret(), appId);
}

const DEV_CERTS = fileURLToPath(new URL('../../../scripts/dev-certs.sh', import.meta.url));

export interface BenchCerts {
  /** CA, node certificate (for 127.0.0.1 and localhost) and its key. */
  files: Required<TlsFiles>;
  /** Deletes the files. */
  remove(): void;
}

/** A development CA and node certificate made by scripts/dev-certs.sh (openssl) in a new temporary directory. */
export function benchCerts(): BenchCerts {
  const dir = mkdtempSync(join(tmpdir(), 'braid-bench-tls-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync('sh', [DEV_CERTS, dir], { stdio: 'ignore' });
  } catch (err) {
    remove();
    throw err;
  }
  return { files: { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'node.pem'), keyFile: join(dir, 'node-key.pem') }, remove };
}

/** Flags that give a server peer (ha-master, worker-server) the TLS files; parsed back by peerTls. */
export function tlsPeerArgs(files: Required<TlsFiles>): string[] {
  return ['--tls-ca', files.caFile, '--tls-cert', files.certFile, '--tls-key', files.keyFile];
}

/** parseArgs options for the flags of tlsPeerArgs. */
export const TLS_PEER_OPTIONS = { 'tls-ca': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' } } as const;

/** In a peer: its TLS files, when it was given them. */
export function peerTls(values: { 'tls-ca'?: string | undefined; 'tls-cert'?: string | undefined; 'tls-key'?: string | undefined }): TlsFiles | undefined {
  const caFile = values['tls-ca'];
  return caFile === undefined ? undefined : { caFile, certFile: values['tls-cert'], keyFile: values['tls-key'] };
}
