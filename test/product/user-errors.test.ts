/**
 * What a user sees when what they gave cannot work, through the real entry
 * points: a coded error that says what kind it is (BRAID_ERR_CONFIG for an
 * option, BRAID_ERR_INPUT for the data), naming the option or path, and the
 * documented exit status (2 for configuration, 3 for input, from the CLI;
 * 2 for any failure to start, from the servers). And TeraSort's output
 * directory: one holding an earlier run's parts is refused unless
 * --overwrite; a 1-record input with more maps than records validates.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { CLI, RECORD, SERVER, cleanup, run, tempDir, type RunAs } from './helpers.js';

afterEach(cleanup);

async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, server };
}

describe('braid CLI user errors', () => {
  test('each carries its code, names the option or path, and exits with the documented status', async () => {
    const dir = await tempDir('user-errors');
    const ragged = join(dir, 'ragged');
    await mkdir(ragged);
    await writeFile(join(ragged, 'part-0'), Buffer.alloc(RECORD + 50));
    const aFile = join(dir, 'a-file');
    await writeFile(aFile, 'x');
    const cases: [string[], number, string, string][] = [
      [['terasort', '--input', join(dir, 'missing')], 3, 'BRAID_ERR_INPUT', join(dir, 'missing')],
      [['terasort', '--input', ragged], 3, 'BRAID_ERR_INPUT', join(ragged, 'part-0')],
      [['terasort', '--input', dir, '--maps', '1'], 3, 'BRAID_ERR_INPUT', 'a-file'],
      [['terasort', '--master', 'not-an-address'], 2, 'BRAID_ERR_CONFIG', '--master'],
      [['status', '--master', 'host:99999'], 2, 'BRAID_ERR_CONFIG', '--master'],
      [['terasort', '--overwrite'], 2, 'BRAID_ERR_CONFIG', '--output'],
      [['gensort', '--records', '1', '--output', join(aFile, 'x', 'part-0')], 3, 'BRAID_ERR_INPUT', join(aFile, 'x', 'part-0')],
    ];
    const results = await Promise.all(cases.map(([args]) => run([CLI, ...args], 30_000)));
    cases.forEach(([args, status, code, named], i) => {
      const r = results[i]!;
      expect({ args, code: r.code }).toEqual({ args, code: status });
      expect(r.stderr, args.join(' ')).toContain(code);
      expect(r.stderr, args.join(' ')).toContain(named);
      expect(r.stderr).not.toContain('BRAID_ERR_INTERNAL');
      expect(r.stderr).not.toContain('embedded cluster');
    });
  });
});

describe('server user errors', () => {
  test('a port in use, for the protocol or HTTP, is a configuration error naming the option', async () => {
    const { port, server } = await busyPort();
    try {
      const data = await tempDir('port-data');
      const [worker, master] = await Promise.all([
        run([SERVER, 'worker', '--master', '127.0.0.1:9', '--port', String(port), '--data-dirs', data]),
        run([SERVER, 'master', '--port', '0', '--http-port', String(port)]),
      ]);
      for (const [r, option] of [
        [worker, 'port'],
        [master, 'httpPort'],
      ] as const) {
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('BRAID_ERR_CONFIG');
        expect(r.stderr).toContain(`"${option}"`);
        expect(r.stderr).toContain('EADDRINUSE');
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('a data directory without permission is a configuration error naming dataDirs and the path', async () => {
    const locked = join(await tempDir('locked'), 'locked');
    await mkdir(locked, { mode: 0o700 });
    const data = join(locked, 'data');
    // As root, permissions do not stop us: the worker runs as nobody. Otherwise the directory is closed to all.
    const root = process.getuid?.() === 0;
    const as: RunAs | undefined = root ? { uid: 65534, gid: 65534 } : undefined;
    if (!root) await chmod(locked, 0o000);
    try {
      const r = await run([SERVER, 'worker', '--master', '127.0.0.1:9', '--port', '0', '--data-dirs', data], 30_000, {}, as);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('BRAID_ERR_CONFIG');
      expect(r.stderr).toContain('"dataDirs"');
      expect(r.stderr).toContain(data);
      expect(r.stderr).toMatch(/EACCES|permission denied/i);
      expect(r.stdout).not.toContain('ready');
    } finally {
      await chmod(locked, 0o700);
    }
  });
});

describe('braid terasort', () => {
  test('an --output directory holding an earlier run\'s parts is refused; --overwrite replaces them; the result validates', async () => {
    const out = join(await tempDir('terasort-out'), 'out');
    await mkdir(out);
    // An earlier run with more reduces left part-00007.
    await writeFile(join(out, 'part-00007'), Buffer.alloc(RECORD));
    const refused = await run([CLI, 'terasort', '--size', '200k', '--maps', '2', '--reduces', '2', '--output', out], 60_000);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('BRAID_ERR_INPUT');
    expect(refused.stderr).toContain(out);
    expect(refused.stderr).toContain('--overwrite');
    expect(refused.stderr).not.toContain('embedded cluster');
    expect(await readdir(out)).toEqual(['part-00007']);

    const replaced = await run([CLI, 'terasort', '--size', '200k', '--maps', '2', '--reduces', '2', '--output', out, '--overwrite'], 60_000);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain('validated');
    expect((await readdir(out)).sort()).toEqual(['part-00000', 'part-00001']);

    // --overwrite never deletes what TeraSort did not write.
    await writeFile(join(out, 'notes.txt'), 'mine');
    const careful = await run([CLI, 'terasort', '--size', '200k', '--maps', '2', '--reduces', '2', '--output', out, '--overwrite'], 60_000);
    expect(careful.code).toBe(3);
    expect(careful.stderr).toContain('notes.txt');
    expect(existsSync(join(out, 'part-00000'))).toBe(true);
  });

  test('a 1-record input with 4 maps and 8 reduces in 4 task processes validates (empty maps end before any push)', async () => {
    const input = join(await tempDir('one-record'), 'in');
    const g = await run([CLI, 'gensort', '--records', '1', '--output', join(input, 'part-0')]);
    expect(g.code).toBe(0);
    const r = await run([CLI, 'terasort', '--input', input, '--maps', '4', '--reduces', '8', '--processes', '4'], 60_000);
    expect(r.stderr).not.toContain('BRAID_ERR');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(1 records)');
    expect(r.stdout).toContain('validated');
  });
});
