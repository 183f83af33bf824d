import { describe, expect, test } from 'vitest';
import { ErrorCodes, isBraidError } from '../../src/protocol/index.js';
import { MASTER_DEFAULTS, resolveMasterOptions, startMaster, type MasterOptions } from '../../src/server/master/index.js';

function configMessage(options: MasterOptions): string {
  try {
    resolveMasterOptions(options);
  } catch (err) {
    expect(isBraidError(err, ErrorCodes.CONFIG)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('options were accepted');
}

describe('master options', () => {
  test('defaults', () => {
    const o = resolveMasterOptions({ insecure: true });
    expect(o).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      workerTimeoutMs: 30_000,
      appTimeoutMs: 60_000,
      heartbeatIntervalMs: 5_000,
      slotStrategy: 'roundrobin',
      replicate: true,
    });
    expect(o.security).toMatchObject({ secret: '', auth: undefined, tls: undefined });
    expect(o.now).toBe(MASTER_DEFAULTS.now);
    expect(resolveMasterOptions({ port: undefined, insecure: true }).port).toBe(0);
  });

  test('a short worker timeout brings the default heartbeat interval down', () => {
    expect(resolveMasterOptions({ workerTimeoutMs: 300, insecure: true }).heartbeatIntervalMs).toBe(100);
    expect(resolveMasterOptions({ workerTimeoutMs: 300, heartbeatIntervalMs: 250, insecure: true }).heartbeatIntervalMs).toBe(250);
  });

  test.each<[MasterOptions, RegExp]>([
    [{ host: '' }, /options\.host must be a non-empty string/],
    [{ port: -1 }, /options\.port must be an integer between 0 and 65535, got -1/],
    [{ port: 65536 }, /options\.port .* got 65536/],
    [{ port: 1.5 }, /options\.port/],
    [{ workerTimeoutMs: 0 }, /options\.workerTimeoutMs must be an integer between 1/],
    [{ workerTimeoutMs: Number.NaN }, /options\.workerTimeoutMs/],
    [{ appTimeoutMs: -5 }, /options\.appTimeoutMs must be an integer between 1/],
    [{ heartbeatIntervalMs: 0 }, /options\.heartbeatIntervalMs must be an integer between 1 and 4294967295/],
    [{ heartbeatIntervalMs: 2 ** 32 }, /options\.heartbeatIntervalMs/],
    [{ workerTimeoutMs: 1000, heartbeatIntervalMs: 1000 }, /options\.heartbeatIntervalMs \(1000\) must be less than options\.workerTimeoutMs \(1000\)/],
    [{ slotStrategy: 'random' as 'roundrobin' }, /options\.slotStrategy must be one of roundrobin, loadaware, got random/],
    [{ authSecret: 5 as unknown as string }, /options\.authSecret must be a string/],
    [{}, /master has no cluster secret; authentication is on by default: .*--auth-secret-file <file> or BRAID_AUTH_SECRET.*--insecure/],
    [{ authSecret: 's', insecure: true }, /options\.insecure contradicts options\.authSecret/],
    [{ authSecret: 's', limits: { maxConnections: 0 } }, /options\.limits\.maxConnections must be a positive integer/],
    [{ now: 'soon' as unknown as () => number }, /options\.now must be a function/],
  ])('%o is refused', (options, message) => {
    expect(configMessage(options)).toMatch(message);
  });

  test('startMaster refuses bad options before listening', async () => {
    await expect(startMaster({ appTimeoutMs: 0 })).rejects.toMatchObject({ code: ErrorCodes.CONFIG, retriable: false });
  });
});
