import { afterEach, describe, expect, it } from 'vitest';
import { LIFECYCLE_DEFAULTS, LifecycleManager, resolveLifecycleOptions, type LifecycleManagerOptions } from '../../src/client/lifecycle/index.js';
import { ErrorCodes, isBraidError } from '../../src/protocol/index.js';

const base: LifecycleManagerOptions = { appId: 'app-1', master: '127.0.0.1:1', insecure: true };

function configErrorOf(options: unknown): Error {
  try {
    resolveLifecycleOptions(options as LifecycleManagerOptions);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a configuration error');
}

describe('LifecycleManager options', () => {
  let started: LifecycleManager | undefined;
  afterEach(async () => {
    await started?.close();
    started = undefined;
  });

  it('applies the defaults', () => {
    const r = resolveLifecycleOptions(base);
    expect(r).toMatchObject({ ...LIFECYCLE_DEFAULTS, insecure: true, appId: 'app-1', masters: [{ host: '127.0.0.1', port: 1 }] });
    expect(r).toMatchObject({
      // Chosen at start: 127.0.0.1 for a master on loopback, else the address that reaches the master.
      host: undefined,
      advertiseHost: undefined,
      advertiseInterface: undefined,
      pingIntervalMs: 1000,
      deadPeerTimeoutMs: 5000,
      connectTimeoutMs: 5000,
      deadPeerBackoffMs: 10_000,
      port: 0,
      replicate: true,
      splitThreshold: 0,
      maxFetchFailures: 4,
      heartbeatIntervalMs: 5000,
      reserveRetries: 3,
      getReducerFileGroupTimeoutMs: 120_000,
      authToken: '',
      commitRetryMs: 30_000,
    });
    expect(r.onUnregisterAllMapOutput).toBeUndefined();
  });

  it('needs the application key unless insecure, and not both', () => {
    const none = configErrorOf({ appId: 'app-1', master: '127.0.0.1:1' });
    expect(isBraidError(none, ErrorCodes.CONFIG)).toBe(true);
    expect(none.message).toMatch(/options\.authToken: a lifecycle manager needs its application's key.*--insecure/);
    expect(configErrorOf({ ...base, authToken: 'k' }).message).toMatch(/options\.insecure contradicts options\.authToken/);
    expect(resolveLifecycleOptions({ appId: 'app-1', master: '127.0.0.1:1', authToken: 'k' })).toMatchObject({ authToken: 'k', insecure: false });
  });

  it('accepts the master as an address object', () => {
    expect(resolveLifecycleOptions({ ...base, master: { host: 'm', port: 1 } }).masters).toEqual([{ host: 'm', port: 1 }]);
  });

  it('accepts several masters, as a list or comma separated', () => {
    const both = [
      { host: 'm1', port: 1 },
      { host: 'm2', port: 2 },
    ];
    expect(resolveLifecycleOptions({ ...base, master: 'm1:1, m2:2' }).masters).toEqual(both);
    expect(resolveLifecycleOptions({ ...base, master: ['m1:1', { host: 'm2', port: 2 }] }).masters).toEqual(both);
  });

  const bad: [string, Record<string, unknown>][] = [
    ['appId', { appId: '' }],
    ['appId', { appId: 7 }],
    ['appId', { appId: undefined }],
    ['master', { master: 'no-port' }],
    ['master', { master: 'host:0' }],
    ['master', { master: { host: 'h', port: 70000 } }],
    ['master', { master: undefined }],
    ['master', { master: [] }],
    ['master', { master: 'm1:1,nope' }],
    ['masterFailoverTimeoutMs', { masterFailoverTimeoutMs: -1 }],
    ['host', { host: '' }],
    ['port', { port: -1 }],
    ['port', { port: 65536 }],
    ['port', { port: 1.5 }],
    ['replicate', { replicate: 'yes' }],
    ['splitThreshold', { splitThreshold: -1 }],
    ['maxFetchFailures', { maxFetchFailures: 0 }],
    ['heartbeatIntervalMs', { heartbeatIntervalMs: 0 }],
    ['heartbeatIntervalMs', { heartbeatIntervalMs: 2 ** 31 }],
    ['reserveRetries', { reserveRetries: -1 }],
    ['getReducerFileGroupTimeoutMs', { getReducerFileGroupTimeoutMs: 0 }],
    ['authToken', { authToken: 5 }],
    ['onUnregisterAllMapOutput', { onUnregisterAllMapOutput: 'fn' }],
    ['reviveBatchWindowMs', { reviveBatchWindowMs: -1 }],
    ['rpcTimeoutMs', { rpcTimeoutMs: 0 }],
    ['commitRetryMs', { commitRetryMs: -1 }],
    ['commitRetryMs', { commitRetryMs: 2 ** 31 }],
  ];
  for (const [name, patch] of bad) {
    it(`rejects a bad ${name}: ${JSON.stringify(patch)}`, () => {
      const err = configErrorOf({ ...base, ...patch });
      expect(isBraidError(err, ErrorCodes.CONFIG)).toBe(true);
      expect(err.message).toContain(`options.${name} `);
    });
  }

  it('start() validates before listening', async () => {
    await expect(LifecycleManager.start({ ...base, appId: '' })).rejects.toMatchObject({ code: ErrorCodes.CONFIG });
  });

  it('start() listens on a loopback port and reports its address and appId', async () => {
    started = await LifecycleManager.start({ ...base, heartbeatIntervalMs: 60_000 });
    expect(started.appId).toBe('app-1');
    expect(started.address.host).toBe('127.0.0.1');
    expect(started.address.port).toBeGreaterThan(0);
  });
});
