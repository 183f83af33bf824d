/**
 * Who sees what: GetStatus and the HTTPS endpoints show the cluster to an
 * admin only; an application sees its own shuffles and nothing of others';
 * anonymous callers get /healthz and /metrics (which name no application)
 * but not /status; a signed request cannot be replayed.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { expect, test } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { GetStatus, Role } from '../../src/protocol/index.js';
import { signHttpRequest } from '../../src/security/http-auth.js';
import { runStandalone } from '../../src/server/roles.js';
import type { MasterStatus } from '../../src/server/master/index.js';
import type { WorkerStatus } from '../../src/server/worker/index.js';
import { appKey, httpsGet, serverSecurityArgs, testAppTls, testSecret, testSecurity } from './fixture.js';
import { App, dial, onCleanup, secureCluster } from './harness.js';

test('GetStatus: an admin sees the cluster; an application its own shuffles only', async () => {
  const c = await secureCluster();
  const a = await App.start(c, 'a');
  const b = await App.start(c, 'b');
  const sa = await a.shuffle('a data', 1);
  await b.shuffle('b data', 2);
  const status = async <T>(address: typeof c.masterAddress, role: Role, appId = ''): Promise<T> => {
    const conn = await dial(c, address, role, appId === '' ? { key: testSecret() } : { appId, key: appKey(appId), tls: testAppTls() });
    return JSON.parse((await conn.call(GetStatus, {})).json.toString('utf8')) as T;
  };
  const admin = await status<MasterStatus>(c.masterAddress, Role.Admin);
  expect(admin.workers).toHaveLength(2);
  expect(admin.shuffles.map((s) => s.key).sort()).toEqual(['a-1', 'b-2']);
  const ofA = await status<MasterStatus>(c.masterAddress, Role.LifecycleManager, 'a');
  expect(ofA.workers).toEqual([]);
  expect(ofA.applications.map((x) => x.appId)).toEqual(['a']);
  expect(ofA.shuffles.map((s) => s.key)).toEqual(['a-1']);
  const workerOfA = await status<WorkerStatus>(sa.worker, Role.Client, 'a');
  expect(workerOfA.shuffles.map((s) => s.key)).toEqual(['a-1']);
  expect(workerOfA.quotas.usage.map((u) => u.appId)).toEqual(['a']);
  const workerAdmin = await status<WorkerStatus>(sa.worker, Role.Admin);
  expect(workerAdmin.quotas.usage.map((u) => u.appId)).toContain('a');
  await a.works();
});

test('HTTPS: /status needs an admin or a signed application request; /metrics and /healthz name no application', async () => {
  const config = resolveConfig('standalone', { argv: ['--workers', '2', '--http-port', '0', ...serverSecurityArgs()], env: {} });
  const running = await runStandalone(config);
  onCleanup(() => running.close());
  const http = String(running.ready.http);
  const master = String(running.ready.master);
  // An application with data, so there is something to hide.
  const app = await App.start({ masterAddress: { host: master.split(':')[0]!, port: Number(master.split(':')[1]) }, tls: true }, 'visible');
  await app.shuffle('x', 1);

  expect((await httpsGet(http, '/healthz', 'anonymous')).status).toBe(200);
  const anonymous = await httpsGet(http, '/status', 'anonymous');
  expect(anonymous.status).toBe(401);
  expect(JSON.parse(anonymous.body)).toMatchObject({ error: { code: 'BRAID_ERR_AUTH' } });

  const admin = JSON.parse((await httpsGet(http, '/status', 'admin')).body) as { master: MasterStatus; workers: WorkerStatus[] };
  expect(admin.master.workers).toHaveLength(2);
  expect(admin.master.shuffles.map((s) => s.key)).toEqual(['visible-1']);

  const own = JSON.parse((await httpsGet(http, '/status', { app: 'visible' })).body) as { master: MasterStatus; workers: WorkerStatus[] };
  expect(own.master.shuffles.map((s) => s.key)).toEqual(['visible-1']);
  expect(own.master.workers).toEqual([]);
  const other = JSON.parse((await httpsGet(http, '/status', { app: 'someone-else' })).body) as { master: MasterStatus; workers: WorkerStatus[] };
  expect(other.master.shuffles).toEqual([]);
  expect(other.workers.flatMap((w) => w.shuffles)).toEqual([]);
  expect(JSON.stringify(other)).not.toContain('visible');

  // A signed header is good once: replayed, or made with a wrong key, it is refused.
  const header = signHttpRequest('GET', '/status', { app: 'visible', key: appKey('visible') });
  const withHeader = (h: string) => fetchWith(http, '/status', h).then((r) => r.status);
  expect(await withHeader(header)).toBe(200);
  expect(await withHeader(header)).toBe(401);
  expect(await withHeader(signHttpRequest('GET', '/status', { app: 'visible', key: appKey('visible-not') }))).toBe(401);
  expect(await withHeader(signHttpRequest('GET', '/status', { secret: 'not-the-secret' }))).toBe(401);
  expect(await withHeader(signHttpRequest('GET', '/status', { secret: testSecret() }))).toBe(200);

  const metrics = (await httpsGet(http, '/metrics', 'anonymous')).body;
  expect(metrics).not.toContain('visible');
  expect(metrics).toMatch(/braid_quota_limit\{[^}]*quota="quotaAppBytes"[^}]*\} \d/);
  expect(metrics).toMatch(/braid_connections_open\{/);
  expect(metrics).toContain('braid_connections_refused_total');
  await app.works();
});

/** GET over HTTPS (test CA, no client certificate) with an Authorization header. */
async function fetchWith(http: string, path: string, authorization: string): Promise<{ status: number }> {
  const [host, port] = [http.slice(0, http.lastIndexOf(':')), Number(http.slice(http.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers: { authorization }, ca: readFileSync(testSecurity().caFile), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}
