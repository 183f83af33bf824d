/**
 * Secure by default, from the real entry points: a server with no secret, a
 * secret on the command line, or neither TLS nor an explicit --plaintext
 * refuses to start and says how to fix it; the explicit forms start. A
 * certificate renewed on disk is taken on SIGHUP, without a restart.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { ErrorCodes, GetStatus, Role, parseAddress } from '../../src/protocol/index.js';
import { TlsMaterial } from '../../src/security/tls.js';
import { connect } from '../../src/transport/index.js';
import { CLI, SERVER, cleanup, run, server, tempDir } from '../product/helpers.js';
import { testSecret, testSecurity } from './fixture.js';

afterEach(cleanup);

test('a server refuses to start without a secret, with a secret as a flag, or without TLS or --plaintext', async () => {
  const s = testSecurity();
  const tls = ['--tls-ca-file', s.caFile, '--tls-cert-file', s.certFile, '--tls-key-file', s.keyFile];
  const [noSecret, flagSecret, noTls, both] = await Promise.all([
    run([SERVER, 'master', ...tls]),
    run([SERVER, 'master', '--auth-secret', 'hunter2', ...tls]),
    run([SERVER, 'master', '--auth-secret-file', s.secretFile]),
    run([SERVER, 'master', '--auth-secret-file', s.secretFile, '--insecure', '--plaintext']),
  ]);
  for (const r of [noSecret, flagSecret, noTls, both]) expect(r.code).toBe(2);
  expect(noSecret.stderr).toMatch(/BRAID_ERR_CONFIG: master has no cluster secret; .*--auth-secret-file <file> or BRAID_AUTH_SECRET.*--insecure/);
  expect(flagSecret.stderr).toMatch(/flag --auth-secret: a secret on the command line can be read by every local user; use --auth-secret-file <file>, BRAID_AUTH_SECRET or a config file/);
  expect(flagSecret.stderr).not.toContain('hunter2');
  expect(noTls.stderr).toMatch(/TLS is not configured: give --tls-ca-file, --tls-cert-file and --tls-key-file .*scripts\/dev-certs\.sh.* or .*--plaintext/);
  expect(both.stderr).toMatch(/options\.insecure contradicts options\.authSecret/);
  // --help shows no secret default and the file options.
  const help = await run([SERVER, 'worker', '--help']);
  expect(help.stdout).toContain('--auth-secret-file');
  expect(help.stdout).toContain('--[no-]insecure');
});

test('the explicit forms start: a secret from the environment with --plaintext, and --insecure --plaintext', async () => {
  const env = await server('master', ['--plaintext', '--port', '0'], 30_000, { BRAID_AUTH_SECRET: testSecret() });
  const open = await server('master', ['--insecure', '--plaintext', '--port', '0']);
  const a = await connect(parseAddress(String(env.ready.master)), { role: Role.Admin, key: testSecret() });
  expect(JSON.parse((await a.call(GetStatus, {})).json.toString()).role).toBe('master');
  a.close();
  // Without authentication anyone is let in, as declared, and a client with a key refuses such a server.
  const anyone = await connect(parseAddress(String(open.ready.master)), { role: Role.Admin });
  anyone.close();
  await expect(connect(parseAddress(String(open.ready.master)), { role: Role.Admin, key: testSecret() })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
});

test('SIGHUP reads renewed TLS files: new connections get the new certificate, without a restart', async () => {
  const s = testSecurity();
  const dir = await tempDir('tls-reload');
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'node.pem'), key: join(dir, 'node-key.pem') };
  const install = (from: { caFile: string; certFile: string; keyFile: string }) => {
    copyFileSync(from.caFile, files.ca);
    copyFileSync(from.certFile, files.cert);
    copyFileSync(from.keyFile, files.key);
  };
  install(s);
  const m = await server('master', ['--auth-secret-file', s.secretFile, '--tls-ca-file', files.ca, '--tls-cert-file', files.cert, '--tls-key-file', files.key, '--port', '0']);
  const address = parseAddress(String(m.ready.master));
  const admin = (f: { caFile: string; certFile: string; keyFile: string }) => connect(address, { role: Role.Admin, key: testSecret(), tls: TlsMaterial.fromFiles(f) });
  const before = await admin(s);

  // The operator renews the certificates (here: a new CA) and signals the server.
  install(s.foreign);
  await expect(admin(s.foreign)).rejects.toMatchObject({ code: ErrorCodes.TLS });
  m.proc.child.kill('SIGHUP');
  await m.proc.waitFor(/TLS certificate and key read again/, 10_000, 'stderr');
  const after = await admin(s.foreign);
  expect(JSON.parse((await after.call(GetStatus, {})).json.toString()).role).toBe('master');
  after.close();
  // Connections opened before keep working; the server never restarted.
  expect(JSON.parse((await before.call(GetStatus, {})).json.toString()).role).toBe('master');
  before.close();
  expect(m.proc.running).toBe(true);

  // A broken renewal (a key that does not match) is refused and the working certificate stays.
  copyFileSync(s.keyFile, files.key);
  m.proc.child.kill('SIGHUP');
  await m.proc.waitFor(/TLS files not reloaded, the old ones stay in use/, 10_000, 'stderr');
  const still = await admin(s.foreign);
  still.close();

  // The CLI as an admin, over TLS, with the renewed files.
  const status = await run([CLI, 'status', '--master', String(m.ready.master), '--auth-secret-file', s.secretFile, '--tls-ca-file', s.foreign.caFile, '--tls-cert-file', s.foreign.certFile, '--tls-key-file', s.foreign.keyFile]);
  expect(status.code, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout).role).toBe('master');
});
