/**
 * What a user sees when a command line is wrong: exit code 2 from the server
 * entry with a message naming the option, usage without a role, --help
 * listing the options, and the CLI refusing unknown flags before it starts
 * anything.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { CLI, SERVER, cleanup, run, tempDir } from './helpers.js';

afterEach(cleanup);

/** A private TMPDIR for a child, so what it leaves there can be seen without racing other tests. */
async function privateTmp(): Promise<{ env: Record<string, string>; left: () => string[] }> {
  const dir = await tempDir('tmp');
  return { env: { TMPDIR: dir }, left: () => readdirSync(dir) };
}

describe('dist/server.js', () => {
  test('an invalid --memory-limit exits 2 naming memoryLimit', async () => {
    const missing = join(await tempDir('cfg'), 'never-created');
    const r = await run([SERVER, 'worker', '--memory-limit', 'lots', '--master', '127.0.0.1:1', '--data-dirs', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('memoryLimit');
    expect(r.stderr).toContain('lots');
    expect(r.stdout).not.toContain('ready');
  });

  test('an unknown flag exits 2 naming it', async () => {
    const r = await run([SERVER, 'master', '--port', '0', '--bogus-flag', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--bogus-flag');
  });

  test('a cross-field rule names both options', async () => {
    const r = await run([SERVER, 'master', '--heartbeat-interval', '10s', '--worker-timeout', '5s']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('heartbeatInterval');
    expect(r.stderr).toContain('workerTimeout');
  });

  test('a worker without its required options exits 2 naming them', async () => {
    const r = await run([SERVER, 'worker', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/master|dataDirs/);
  });

  test('no role, or an unknown one, prints the usage and exits 2', async () => {
    const results = await Promise.all([[SERVER], [SERVER, 'mastr']].map((args) => run(args)));
    for (const r of results) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^usage: .*master\|worker\|standalone/);
    }
  });

  test('--help exits 0 listing the options of the role', async () => {
    const [r, s] = await Promise.all([run([SERVER, 'worker', '--help']), run([SERVER, 'standalone', '--help'])]);
    expect(r.code).toBe(0);
    for (const flag of ['--port', '--http-port', '--master', '--data-dirs', '--memory-limit', '--config']) expect(r.stdout).toContain(flag);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('--workers');
    expect(s.stdout).toContain('--data-dir ');
  });

  test('a port already in use exits non-zero and leaves no temporary data behind', async () => {
    const { createServer } = await import('node:net');
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (busy.address() as { port: number }).port;
      const tmp = await privateTmp();
      const r = await run([SERVER, 'standalone', '--http-port', String(port)], 30_000, tmp.env);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('EADDRINUSE');
      expect(tmp.left()).toEqual([]);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });
});

describe('braid CLI', () => {
  test('terasort --bogus 1 exits non-zero naming --bogus, without starting a cluster', async () => {
    const tmp = await privateTmp();
    const r = await run([CLI, 'terasort', '--bogus', '1'], 30_000, tmp.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--bogus');
    expect(r.stderr).not.toContain('embedded cluster');
    expect(tmp.left()).toEqual([]);
  });

  test('bad values are refused with the option named', async () => {
    const cases: [string[], string][] = [
      [['terasort', '--size', 'huge'], '--size'],
      [['terasort', '--maps', '0'], '--maps'],
      [['terasort', '--compression', 'gzip'], '--compression'],
      [['gensort', '--output', '/nonexistent/x'], '--records'],
      [['status'], '--master'],
    ];
    const results = await Promise.all(cases.map(([args]) => run([CLI, ...args])));
    cases.forEach(([args, named], i) => {
      expect(results[i]!.code, args.join(' ')).not.toBe(0);
      expect(results[i]!.stderr, args.join(' ')).toContain(named);
    });
  });

  test('no command prints the usage and exits 2; --help exits 0', async () => {
    const none = await run([CLI]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('braid terasort');
    const help = await run([CLI, 'terasort', '--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toContain('--reduces');
  });
});
