/**
 * The server roles as separate processes: a master and a worker started from
 * dist/server.js, registration, clean stops on signals, and a worker
 * restarted on the same data directory and port still serving the partitions
 * it had committed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LifecycleManager, ShuffleClient } from '../../dist/index.js';
import { appKey, testCaOnly, testTlsFiles } from '../security/fixture.js';
import { CLI, cleanup, get, run, server, tempDir } from './helpers.js';

afterEach(cleanup);

interface MasterStatusJson {
  workers: { address: string; lost: boolean; shuttingDown: boolean }[];
  applications: { appId: string }[];
}

async function masterStatus(http: unknown): Promise<MasterStatusJson> {
  const res = await get(http, '/status');
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as MasterStatusJson;
}

/** Every line a role writes to stderr in a clean life: its stop notice, and log lines at info level or below (no warning, no error, no stack). */
function onlyStopNotice(stderr: string, role: string, signal: string): boolean {
  const lines = stderr.trim().split('\n');
  const notice = `braid ${role}: ${signal}, stopping`;
  return lines.includes(notice) && lines.every((l) => l === notice || /^\S+Z (DEBUG|INFO) /.test(l));
}

describe('master and worker processes', () => {
  test('a worker registers with its master; SIGTERM stops each with exit code 0 within seconds', async () => {
    const m = await server('master', ['--port', '0', '--http-port', '0']);
    const masterAddress = String(m.ready.master);
    expect(masterAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    const dir = await tempDir('worker');
    const w = await server('worker', ['--master', masterAddress, '--data-dirs', dir, '--port', '0', '--http-port', '0']);
    const workerAddress = String(w.ready.worker);
    expect(workerAddress).toMatch(/^127\.0\.0\.1:\d+$/);

    // The worker registers before it announces itself ready.
    const status = await masterStatus(m.ready.http);
    expect(status.workers).toEqual([expect.objectContaining({ address: workerAddress, lost: false, shuttingDown: false })]);
    const own = JSON.parse((await get(w.ready.http, '/status')).body) as { role: string; registered: boolean; disks: { path: string }[] };
    expect(own).toMatchObject({ role: 'worker', registered: true, disks: [{ path: dir }] });
    expect((await get(w.ready.http, '/healthz')).body.trim()).toBe('ok');
    const metrics = (await get(m.ready.http, '/metrics')).body;
    expect(metrics).toMatch(/^braid_workers_registered\{role="master"\} 1$/m);

    const ws = await w.proc.stop('SIGTERM', 10_000);
    expect(ws).toMatchObject({ code: 0, signal: null });
    expect(ws.ms).toBeLessThan(5_000);
    expect(onlyStopNotice(w.proc.stderr, 'worker', 'SIGTERM'), w.proc.stderr).toBe(true);
    // Its metadata store stays for a restart.
    expect(existsSync(join(dir, '.braid-meta'))).toBe(true);

    // The worker told the master it was leaving before it went.
    const after = await masterStatus(m.ready.http);
    expect(after.workers.find((x) => x.address === workerAddress)?.shuttingDown).toBe(true);

    const ms = await m.proc.stop('SIGTERM', 10_000);
    expect(ms).toMatchObject({ code: 0, signal: null });
    expect(ms.ms).toBeLessThan(5_000);
    expect(onlyStopNotice(m.proc.stderr, 'master', 'SIGTERM'), m.proc.stderr).toBe(true);
  });

  test('a worker whose master is already gone still stops cleanly and promptly', async () => {
    const m = await server('master', ['--port', '0']);
    const w = await server('worker', ['--master', String(m.ready.master), '--data-dirs', await tempDir('orphan'), '--port', '0']);
    expect(await m.proc.stop('SIGINT')).toMatchObject({ code: 0 });
    const ws = await w.proc.stop('SIGTERM', 10_000);
    expect(ws).toMatchObject({ code: 0, signal: null });
    expect(ws.ms).toBeLessThan(5_000);
  });

  test('braid status lists a worker started later, once it registers', async () => {
    const m = await server('master', ['--port', '0']);
    const before = await run([CLI, 'status', '--master', String(m.ready.master)], 30_000);
    expect(before.code, before.stderr).toBe(0);
    expect((JSON.parse(before.stdout) as MasterStatusJson).workers).toEqual([]);
    const w = await server('worker', ['--master', String(m.ready.master), '--data-dirs', await tempDir('late'), '--port', '0']);
    const after = await run([CLI, 'status', '--master', String(m.ready.master)], 30_000);
    expect((JSON.parse(after.stdout) as MasterStatusJson).workers.map((x) => x.address)).toEqual([String(w.ready.worker)]);
  });
});

describe('worker restart', () => {
  test('a worker restarted on the same data directory and port serves the committed partitions again, byte for byte', async () => {
    const m = await server('master', ['--port', '0']);
    const masterAddress = String(m.ready.master);
    const dir = await tempDir('restart');
    const w1 = await server('worker', ['--master', masterAddress, '--data-dirs', dir, '--port', '0', '--chunk-size', '64k']);
    const workerAddress = String(w1.ready.worker);
    const port = workerAddress.split(':')[1]!;

    const appId = `restart-${process.pid}`;
    const lm = await LifecycleManager.start({ appId, master: masterAddress, replicate: false, authToken: appKey(appId), tls: testTlsFiles() });
    try {
      const maps = 3;
      const partitions = 4;
      // pushed[p]: every payload sent to partition p, as hex, to compare as a multiset.
      const pushed: string[][] = Array.from({ length: partitions }, () => []);
      const writer = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: appKey(appId), tls: testCaOnly() });
      for (let map = 0; map < maps; map++) {
        for (let i = 0; i < 20; i++) {
          const p = (map + i) % partitions;
          // Sizes from a few bytes to beyond one 64 KiB chunk, so files have several chunks.
          const payload = randomBytes(i % 5 === 0 ? 70_000 + i : 10 + i * 97);
          pushed[p]!.push(payload.toString('hex'));
          if (i % 2 === 0) await writer.pushData(0, map, 0, p, payload, 0, payload.length, maps, partitions);
          else await writer.mergeData(0, map, 0, p, payload, 0, payload.length, maps, partitions);
        }
        const end = await writer.mapperEnd(0, map, 0, maps);
        expect(end.winner).toBe(true);
        expect(end.allMappersEnded).toBe(map === maps - 1);
      }
      await lm.waitForStageEnd(0, 30_000);

      const readAll = async (client: ShuffleClient): Promise<string[][]> => {
        const out: string[][] = [];
        for (let p = 0; p < partitions; p++) {
          const batches: string[] = [];
          for await (const b of client.readPartition(0, p)) batches.push(b.toString('hex'));
          out.push(batches);
        }
        return out;
      };
      const first = await readAll(writer);
      await writer.close();
      for (let p = 0; p < partitions; p++) expect([...first[p]!].sort()).toEqual([...pushed[p]!].sort());

      const stop = await w1.proc.stop('SIGTERM', 10_000);
      expect(stop).toMatchObject({ code: 0, signal: null });
      // The partition files and the metadata store are still on disk.
      expect(readdirSync(dir)).toContain('.braid-meta');

      const w2 = await server('worker', ['--master', masterAddress, '--data-dirs', dir, '--port', port, '--chunk-size', '64k']);
      expect(w2.ready.worker).toBe(workerAddress);

      const reader = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: appKey(appId), tls: testCaOnly() });
      try {
        expect(await readAll(reader)).toEqual(first);
      } finally {
        await reader.close();
      }
      expect(await w2.proc.stop('SIGTERM')).toMatchObject({ code: 0 });
    } finally {
      await lm.close();
    }
  }, 60_000);
});

describe('standalone --data-dirs', () => {
  test('spreads every worker over each given disk and leaves those disks in place on stop', async () => {
    const root = await tempDir('disks');
    const disks = [join(root, 'd1'), join(root, 'd2')];
    const s = await server('standalone', ['--workers', '2', '--data-dirs', disks.join(','), '--http-port', '0']);
    expect(s.ready.dataDirs).toEqual(disks);
    const status = JSON.parse((await get(s.ready.http, '/status')).body) as { workers: { disks: { path: string }[] }[] };
    expect(status.workers.map((w) => w.disks.map((d) => d.path))).toEqual([
      [join(disks[0]!, 'worker-0'), join(disks[1]!, 'worker-0')],
      [join(disks[0]!, 'worker-1'), join(disks[1]!, 'worker-1')],
    ]);
    expect(await s.proc.stop('SIGTERM')).toMatchObject({ code: 0 });
    for (const d of disks) expect(readdirSync(d).sort()).toEqual(['worker-0', 'worker-1']);
  });
});
