/**
 * Bind and advertise: which host a role tells its peers, and the
 * configurations refused because peers would connect to a wildcard or to
 * their own loopback. Each refusal names the option to change.
 */
import { networkInterfaces } from 'node:os';
import { describe, expect, test } from 'vitest';
import { ErrorCodes } from '../../src/protocol/index.js';
import { advertisedHost, interfaceAddress, isLoopback, isWildcard, localAddressTowards } from '../../src/transport/index.js';

function refusal(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('not refused');
}

const WORKER = { role: 'worker' };

describe('advertisedHost', () => {
  test('the single-host case: loopback everywhere is fine', () => {
    expect(advertisedHost({ host: '127.0.0.1' }, { ...WORKER, master: '127.0.0.1:9097' })).toBe('127.0.0.1');
    expect(advertisedHost({ host: 'localhost' }, { ...WORKER, master: 'localhost:9097' })).toBe('localhost');
    expect(advertisedHost({ host: '127.0.0.1' }, { role: 'master' })).toBe('127.0.0.1');
  });

  test('a specific address is advertised as it is; advertiseHost wins over it', () => {
    expect(advertisedHost({ host: '10.1.2.3' }, { ...WORKER, master: '10.1.2.1:9097' })).toBe('10.1.2.3');
    expect(advertisedHost({ host: '0.0.0.0', advertiseHost: 'worker-7.example' }, { ...WORKER, master: '10.1.2.1:9097' })).toBe('worker-7.example');
    expect(advertisedHost({ host: '10.1.2.3', advertiseHost: '192.0.2.9' }, { role: 'master' })).toBe('192.0.2.9');
  });

  test('a wildcard is never advertised', () => {
    for (const host of ['0.0.0.0', '::', '']) {
      const e = refusal(() => advertisedHost({ host }, { ...WORKER, master: '10.1.2.1:9097' }));
      expect(e.code).toBe(ErrorCodes.CONFIG);
      expect(e.message).toMatch(/^option "host": .* set advertiseHost \(or advertiseInterface\)/);
    }
    expect(refusal(() => advertisedHost({ host: '10.1.2.3', advertiseHost: '0.0.0.0' }, { role: 'master' })).message).toMatch(/^option "advertiseHost": "0\.0\.0\.0" is a wildcard/);
  });

  test('loopback is refused when the master is on another host', () => {
    const e = refusal(() => advertisedHost({ host: '127.0.0.1' }, { ...WORKER, master: '10.1.2.1:9097' }));
    expect(e.code).toBe(ErrorCodes.CONFIG);
    expect(e.message).toMatch(/^option "host": "127\.0\.0\.1" is a loopback address, but the master 10\.1\.2\.1:9097 is on another host/);
    expect(refusal(() => advertisedHost({ host: '0.0.0.0', advertiseHost: 'localhost' }, { ...WORKER, master: 'm.example:1' })).message).toMatch(/^option "advertiseHost": "localhost" is a loopback/);
    expect(refusal(() => advertisedHost({ host: '0.0.0.0', advertiseInterface: 'lo' }, { ...WORKER, master: 'm.example:1' })).message).toMatch(/^option "advertiseInterface": "127\.0\.0\.1" is a loopback/);
  });

  test('listening on loopback while advertising another address is refused: nobody else could connect', () => {
    const e = refusal(() => advertisedHost({ host: '127.0.0.1', advertiseHost: '10.1.2.3' }, { role: 'master' }));
    expect(e.message).toMatch(/^option "host": "127\.0\.0\.1" accepts connections from this host only, but this master advertises "10\.1\.2\.3"/);
  });

  test('advertiseInterface: the address of a named interface; an unknown name or both options are refused', () => {
    expect(interfaceAddress('lo')).toBe('127.0.0.1');
    expect(advertisedHost({ host: '0.0.0.0', advertiseInterface: 'lo' }, { role: 'master' })).toBe('127.0.0.1');
    const e = refusal(() => advertisedHost({ host: '0.0.0.0', advertiseInterface: 'nosuch9' }, { role: 'master' }));
    expect(e.message).toMatch(/^option "advertiseInterface": no network interface named "nosuch9" on this host \(it has: .*lo/);
    expect(refusal(() => advertisedHost({ host: '0.0.0.0', advertiseHost: 'a', advertiseInterface: 'lo' }, { role: 'master' })).message).toMatch(/^option "advertiseHost": set advertiseHost or advertiseInterface, not both/);
    // Every other interface of this host advertises its own first IPv4 address.
    for (const [name, addrs] of Object.entries(networkInterfaces())) {
      const v4 = addrs?.find((a) => a.family === 'IPv4');
      if (v4 !== undefined) expect(interfaceAddress(name)).toBe(v4.address);
    }
  });

  test('what counts as wildcard and loopback', () => {
    expect(['0.0.0.0', '::', '[::]', ''].every(isWildcard)).toBe(true);
    expect(['127.0.0.1', '127.9.9.9', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', 'example.com', '0.0.0.0', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});

test('localAddressTowards: the local address that routes to a host', async () => {
  expect(await localAddressTowards('127.0.0.1')).toBe('127.0.0.1');
});
