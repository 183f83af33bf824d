/**
 * A standalone cluster started from the real entry point, used by the real
 * CLI as separate processes: TeraSort end to end with its output checked
 * here, the metrics, status and health endpoints after traffic, and
 * gensort-format input (ours and arbitrary bytes).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLI, RECORD, cleanup, get, removeLater, run, samples, server, sum, tempDir, type Proc, type Ready } from './helpers.js';
import { canonical, firstUnsorted, readOutput, recordNumbersAreExactly } from './records.js';

let proc: Proc;
let ready: Ready;
let master: string;

beforeAll(async () => {
  ({ proc, ready } = await server('standalone', ['--workers', '2', '--http-port', '0']));
  master = String(ready.master);
  // Normally removed by the standalone itself on a clean stop (asserted below); this covers a failed run.
  removeLater(String(ready.dataDir));
});

afterAll(cleanup);

describe('standalone cluster from dist/server.js', () => {
  test('announces a master, two workers, its data directory and its HTTP port', () => {
    expect(master).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(ready.workers).toHaveLength(2);
    expect(ready.http).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(existsSync(String(ready.dataDir))).toBe(true);
  });

  test('braid terasort --size 32m writes 4 globally sorted parts holding every record once', async () => {
    const out = join(await tempDir('terasort'), 'out');
    const r = await run([CLI, 'terasort', '--size', '32m', '--maps', '4', '--reduces', '4', '--master', master, '--output', out], 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^terasort: .*\(335544 records\).*, validated$/m);
    // A cluster given with --master is used as is: no embedded one is started.
    expect(r.stderr).not.toContain('embedded cluster');

    const { names, data } = await readOutput(out);
    expect(names).toEqual(['part-00000', 'part-00001', 'part-00002', 'part-00003']);
    const records = Math.floor((32 * 1024 * 1024) / RECORD);
    expect(data.length).toBe(records * RECORD);
    expect(firstUnsorted(data)).toBe(-1);
    expect(recordNumbersAreExactly(data, records)).toEqual({ ok: true });
  }, 90_000);

  test('GET /metrics after the job: traffic counted, workers registered, latency histogram, process series', async () => {
    const res = await get(ready.http, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    const text = res.body;

    const workers = { role: 'worker' };
    expect(sum(samples(text, 'braid_push_requests_total', workers))).toBeGreaterThan(0);
    expect(sum(samples(text, 'braid_push_bytes_total', workers))).toBeGreaterThan(0);
    expect(sum(samples(text, 'braid_fetch_chunks_total', workers))).toBeGreaterThan(0);
    expect(sum(samples(text, 'braid_fetch_bytes_total', workers))).toBeGreaterThan(0);
    // Each in-process worker has its own labelled series, and both took pushes (replication is on).
    for (const worker of ['0', '1']) expect(sum(samples(text, 'braid_push_bytes_total', { role: 'worker', worker }))).toBeGreaterThan(0);
    expect(samples(text, 'braid_workers_registered', { role: 'master' })).toEqual([2]);

    const count = sum(samples(text, 'braid_push_latency_seconds_count', workers));
    expect(count).toBeGreaterThan(0);
    expect(sum(samples(text, 'braid_push_latency_seconds_bucket', { ...workers, le: '+Inf' }))).toBe(count);
    expect(text).toMatch(/^process_cpu_user_seconds_total \S+$/m);
    expect(text).toMatch(/^process_resident_memory_bytes [1-9]\d*$/m);

    // A valid exposition has each family's HELP and TYPE once, even with three registries in one process.
    const headers = text.split('\n').filter((l) => l.startsWith('# TYPE ') || l.startsWith('# HELP '));
    expect(new Set(headers.map((l) => l.split(' ').slice(1, 3).join(' '))).size).toBe(headers.length);
  });

  test('GET /status lists both workers and the application; GET /healthz is ok', async () => {
    const res = await get(ready.http, '/status');
    expect(res.status).toBe(200);
    expect(res.type).toContain('application/json');
    const status = JSON.parse(res.body) as {
      master: { workers: { address: string; lost: boolean }[]; applications: { appId: string }[] };
      workers: { address: string; registered: boolean }[];
    };
    expect(status.master.workers.map((w) => w.address).sort()).toEqual([...(ready.workers as string[])].sort());
    expect(status.master.workers.every((w) => !w.lost)).toBe(true);
    expect(status.master.applications.length).toBeGreaterThanOrEqual(1);
    expect(status.master.applications[0]!.appId).toMatch(/^app-/);
    expect(status.workers.map((w) => w.registered)).toEqual([true, true]);

    const health = await get(ready.http, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body.trim()).toBe('ok');
    expect((await get(ready.http, '/nope')).status).toBe(404);
  });

  test('braid status --master prints the master status as JSON', async () => {
    const r = await run([CLI, 'status', '--master', master], 30_000);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as { role: string; address: string; workers: { address: string }[] };
    expect(status.role).toBe('master');
    expect(status.address).toBe(master);
    expect(status.workers.map((w) => w.address).sort()).toEqual([...(ready.workers as string[])].sort());
  });

  test('braid gensort writes a file that braid terasort --input sorts and validates', async () => {
    const dir = await tempDir('gensort');
    const input = join(dir, 'in');
    // In a directory that does not exist yet: gensort makes it.
    const file = join(input, 'records.dat');
    const g = await run([CLI, 'gensort', '--records', '50000', '--output', file], 30_000);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain('50000 records');

    const out = join(dir, 'out');
    const r = await run([CLI, 'terasort', '--input', input, '--maps', '2', '--reduces', '3', '--master', master, '--output', out], 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(50000 records\).*, validated$/m);

    const { names, data } = await readOutput(out);
    expect(names).toHaveLength(3);
    expect(firstUnsorted(data)).toBe(-1);
    expect(recordNumbersAreExactly(data, 50_000)).toEqual({ ok: true });
  }, 90_000);

  test('records of arbitrary bytes (as the official gensort makes them), in two files, are accepted and sorted', async () => {
    const dir = await tempDir('binary');
    const input = join(dir, 'in');
    const out = join(dir, 'out');
    // Keys over the whole byte range, with the extremes and repeated keys that carry different values.
    const a = randomBytes(12_000 * RECORD);
    const b = randomBytes(8_000 * RECORD);
    a.fill(0x00, 0, 10);
    a.fill(0xff, RECORD, RECORD + 10);
    for (let i = 2; i < 50; i++) b.copy(b, i * RECORD, 0, 10);
    await mkdir(input);
    await writeFile(join(input, 'a.dat'), a);
    await writeFile(join(input, 'b.dat'), b);

    const r = await run([CLI, 'terasort', '--input', input, '--maps', '3', '--reduces', '2', '--master', master, '--output', out], 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\(20000 records\).*, validated$/m);
    const { data } = await readOutput(out);
    expect(firstUnsorted(data)).toBe(-1);
    expect(canonical(data).equals(canonical(Buffer.concat([a, b])))).toBe(true);
  }, 90_000);

  test('an input file that is not whole 100-byte records is refused before any work', async () => {
    const dir = await tempDir('ragged');
    await writeFile(join(dir, 'bad.dat'), randomBytes(RECORD * 3 + 7));
    const r = await run([CLI, 'terasort', '--input', dir, '--master', master], 30_000);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('BRAID_ERR_INPUT');
    expect(r.stderr).toContain('not a whole number of 100-byte records');
  });

  test('SIGINT stops the standalone cleanly and removes its temporary data directory', async () => {
    const stopped = await proc.stop('SIGINT', 15_000);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(proc.stderr).toContain('braid standalone: SIGINT, stopping');
    expect(existsSync(String(ready.dataDir))).toBe(false);
  });
});
