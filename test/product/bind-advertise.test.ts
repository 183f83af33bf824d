/**
 * Bind and advertise from the command line: a server that would tell peers
 * on other hosts a wildcard or a loopback address does not start (exit 2, the
 * option named); one bound to 0.0.0.0 advertises what it is told to; and the
 * single-host case (loopback everywhere) keeps working.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { ErrorCodes, GetStatus, Role, parseAddress } from '../../src/protocol/index.js';
import { connect } from '../../src/transport/index.js';
import { clusterSecurity } from '../security/fixture.js';
import { SERVER, cleanup, run, server, tempDir } from './helpers.js';

afterEach(cleanup);

describe('dist/server.js bind and advertise', () => {
  test('a worker on loopback with its master on another host is refused, naming host', async () => {
    const r = await run([SERVER, 'worker', '--master', '10.255.255.1:9097', '--data-dirs', await tempDir('adv')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`braid worker: ${ErrorCodes.CONFIG}: option "host": "127.0.0.1" is a loopback address, but the master 10.255.255.1:9097 is on another host`);
    expect(r.stdout).not.toContain('ready');
  });

  test('a master on 0.0.0.0 without an advertised host is refused, naming host and advertiseHost', async () => {
    const r = await run([SERVER, 'master', '--host', '0.0.0.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option "host": "0\.0\.0\.0" listens on every interface .* set advertiseHost \(or advertiseInterface\)/);
  });

  test('bound to 0.0.0.0 it advertises --advertise-host (ready line, status) and is reachable there', async () => {
    const { ready } = await server('master', ['--host', '0.0.0.0', '--advertise-host', '127.0.0.1', '--port', '0', '--http-port', '0']);
    expect(String(ready.master)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(String(ready.http)).toMatch(/^127\.0\.0\.1:\d+$/);
    const { authSecret, tls } = clusterSecurity();
    const conn = await connect(parseAddress(String(ready.master)), { role: Role.Admin, key: authSecret, tls });
    try {
      const status = JSON.parse((await conn.call(GetStatus, {})).json.toString()) as { address: string };
      expect(status.address).toBe(ready.master);
    } finally {
      conn.close();
    }
  });
});
