import { describe, expect, test } from 'vitest';
import { CommitFiles, ErrorCodes, GetStatus, MessageType, Role } from '../../src/protocol/index.js';
import { startMaster } from '../../src/server/master/index.js';
import { connect } from '../../src/transport/index.js';
import { FakeLifecycle, client, lifecycle, master, sleep, workers } from './helpers.js';

describe('master server', () => {
  test('GetStatus and status() describe workers, applications and shuffles', async () => {
    const m = await master({ slotStrategy: 'loadaware' });
    const [a] = await workers(m, '127.0.0.1:1001', '127.0.0.2:1002');
    if (a === undefined) throw new Error('no worker');
    a.activeShuffleKeys = ['app_1-3'];
    await a.heartbeat();
    const lm = await lifecycle(m);
    await lm.slots(3, 2, true);
    await lm.heartbeat([3, 4]);

    const remote = await new FakeLifecycle(await client(m, Role.Admin), '').status();
    const local = m.status();
    for (const s of [remote, local]) {
      expect(s).toMatchObject({
        role: 'master',
        address: `127.0.0.1:${m.address.port}`,
        slotStrategy: 'loadaware',
        workers: [
          { address: '127.0.0.1:1001', lost: false, shuttingDown: false, slots: 2, activeShuffles: 1 },
          { address: '127.0.0.2:1002', lost: false, shuttingDown: false, slots: 2, activeShuffles: 0 },
        ],
        applications: [{ appId: 'app_1', shuffles: [3, 4] }],
        shuffles: [
          { key: 'app_1-3', appId: 'app_1', shuffleId: 3, slots: 4, slotsByWorker: { '127.0.0.1:1001': 2, '127.0.0.2:1002': 2 } },
          { key: 'app_1-4', appId: 'app_1', shuffleId: 4, slots: 0, slotsByWorker: {} },
        ],
        expiredShuffleKeys: [],
      });
      expect(s.workers[0]?.disks).toEqual([{ path: '/data/0', totalBytes: 2e12, freeBytes: 1e12, healthy: true }]);
      expect(s.workers[0]?.lastHeartbeatAgoMs).toBeGreaterThanOrEqual(0);
      expect(s.applications[0]?.lastHeartbeatAgoMs).toBeLessThan(5000);
      expect(s.uptimeMs).toBeGreaterThanOrEqual(0);
    }
    // An application's own connection sees only its part: no workers, only its shuffles.
    const own = await lm.status();
    expect(own.workers).toEqual([]);
    expect(own.applications.map((a) => a.appId)).toEqual(['app_1']);
    expect(own.shuffles.map((sh) => sh.key)).toEqual(['app_1-3', 'app_1-4']);
    const other = await (await lifecycle(m, 'app_2')).status();
    expect([other.workers, other.applications, other.shuffles]).toEqual([[], [], []]);
    expect(m.address).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    expect(m.address.port).toBeGreaterThan(0);
  });

  test('a port in use is a configuration error naming the option', async () => {
    const m = await master();
    const start = startMaster({ port: m.address.port, insecure: true });
    await expect(start).rejects.toMatchObject({ code: ErrorCodes.CONFIG });
    await expect(start).rejects.toThrow(/options\.host:options\.port 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  });

  test('with a secret, handshakes that do not prove it are refused', async () => {
    const m = await master({ authSecret: 's3cret' });
    await expect(connect(m.address, { role: Role.Worker })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
    await expect(connect(m.address, { role: Role.Worker, key: 'wrong' })).rejects.toMatchObject({ code: ErrorCodes.AUTH });
    const ok = await client(m, Role.Admin, { key: 's3cret' });
    const { json } = await ok.call(GetStatus, {});
    expect(JSON.parse(json.toString()).role).toBe('master');
  });

  test('requests other than control RPCs get INVALID_REQUEST; unserved methods UNKNOWN_METHOD', async () => {
    const m = await master();
    const c = await client(m, Role.LifecycleManager, { appId: 'app_1' });
    await expect(
      c.request({ type: MessageType.PushData, shuffleKey: 'app_1-0', partitionId: 0, epoch: 0, mode: 0, body: Buffer.alloc(8) }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(
      c.request({ type: MessageType.OpenStream, shuffleKey: 'app_1-0', fileName: '0-0-primary', startMapIndex: 0, endMapIndex: 1 }),
    ).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(c.fetchChunk(1, 0)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(c.call(CommitFiles, { appId: 'app_1', shuffleId: 0, files: [], mapAttempts: [] })).rejects.toMatchObject({
      code: ErrorCodes.UNKNOWN_METHOD,
    });
    // The connection survives all of that.
    expect(c.isClosed).toBe(false);
    expect((await c.call(GetStatus, {})).json.length).toBeGreaterThan(0);
  });

  test('close() closes connections and the listener and stops the sweep timer', async () => {
    let clockReads = 0;
    const now = (): number => {
      clockReads++;
      return Date.now();
    };
    const m = await startMaster({ workerTimeoutMs: 100, now, insecure: true });
    const c = await connect(m.address, { role: Role.Worker });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    // The sweep reads the clock every 25 ms while the master runs...
    const reads = clockReads;
    await sleep(100);
    expect(clockReads).toBeGreaterThan(reads);
    await m.close();
    await closed;
    expect(c.isClosed).toBe(true);
    await m.close(); // idempotent
    // ...and never after close.
    const readsAtClose = clockReads;
    await sleep(100);
    expect(clockReads).toBe(readsAtClose);
    await expect(connect(m.address, { role: Role.Worker, connectTimeoutMs: 2000 })).rejects.toMatchObject({ code: ErrorCodes.CONNECT });
  });
});
