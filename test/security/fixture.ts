/**
 * The one place where tests get the cluster's security settings: the secret
 * and TLS files made once per run by test/global-setup.ts. Fixtures that
 * spawn servers or jobs (test/e2e/cluster.ts, test/product/helpers.ts) take
 * their flags from here, so every multi-process test runs with
 * authentication and TLS on.
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { inject } from 'vitest';
import { signHttpRequest } from '../../src/security/http-auth.js';
import { applicationKey } from '../../src/security/keys.js';
import { TlsMaterial, type TlsFiles } from '../../src/security/tls.js';

export function testSecurity() {
  return inject('braidSecurity');
}

/** The cluster secret of the test run. */
export function testSecret(): string {
  return readFileSync(testSecurity().secretFile, 'utf8').trim();
}

/** CA, node certificate and key (a server's or a cluster role's TLS files). */
export function testTlsFiles(): TlsFiles {
  const s = testSecurity();
  return { caFile: s.caFile, certFile: s.certFile, keyFile: s.keyFile };
}

/** Only the CA: what an application's task needs to reach the cluster over TLS. */
export function testCaOnly(): TlsFiles {
  return { caFile: testSecurity().caFile };
}

let material: TlsMaterial | undefined;
/** The node TLS material (a cluster role's), loaded once per test file. */
export function testTls(): TlsMaterial {
  material ??= TlsMaterial.fromFiles(testTlsFiles());
  return material;
}

let appMaterial: TlsMaterial | undefined;
/** TLS material with the CA only: what an application's tasks hold (no client certificate). */
export function testAppTls(): TlsMaterial {
  appMaterial ??= TlsMaterial.fromFiles(testCaOnly());
  return appMaterial;
}

/** Flags that make a spawned server (node dist/server.js <role>) authenticate with the secret and speak TLS. */
export function serverSecurityArgs(): string[] {
  const s = testSecurity();
  return ['--auth-secret-file', s.secretFile, '--tls-ca-file', s.caFile, '--tls-cert-file', s.certFile, '--tls-key-file', s.keyFile];
}

/** Options of an in-process server role (startMaster, startWorker, startStandalone) with the test secret and TLS. */
export function clusterSecurity(): { authSecret: string; tls: TlsMaterial } {
  return { authSecret: testSecret(), tls: testTls() };
}

/** The key of `appId` under the test secret. */
export function appKey(appId: string): string {
  return applicationKey(testSecret(), appId);
}

/** What a connection of an application role (client, LifecycleManager) presents to the test cluster: its application, key and the CA. */
export function appIdentity(appId: string): { appId: string; key: string; tls: TlsMaterial } {
  return { appId, key: appKey(appId), tls: testAppTls() };
}

/** runJob's options for the test cluster: the secret (the job derives its application key) and the node TLS files (its LifecycleManager listens with them; tasks get the CA). */
export function jobSecurity(): { authSecret: string; tls: TlsFiles } {
  return { authSecret: testSecret(), tls: testTlsFiles() };
}

export interface HttpAnswer {
  status: number;
  type: string;
  body: string;
}

/**
 * GET https://<hostPort><path> against a server of the test cluster (checked
 * against the test CA). As `admin`, the request presents the node
 * certificate; as `{ app }`, it is signed with that application's key;
 * `anonymous` presents nothing.
 */
export function httpsGet(hostPort: string, path: string, as: 'admin' | 'anonymous' | { app: string } = 'admin'): Promise<HttpAnswer> {
  const s = testSecurity();
  const [host, port] = splitHostPort(hostPort);
  const headers: Record<string, string> = typeof as === 'object' ? { authorization: signHttpRequest('GET', path, { app: as.app, key: appKey(as.app) }) } : {};
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host,
        port,
        path,
        method: 'GET',
        headers,
        ca: readFileSync(s.caFile),
        ...(as === 'admin' ? { cert: readFileSync(s.certFile), key: readFileSync(s.keyFile) } : {}),
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i).replace(/^\[|\]$/g, ''), Number(hostPort.slice(i + 1))];
}
