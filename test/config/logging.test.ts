import { Writable } from 'node:stream';
import { expect, test } from 'vitest';
import { createLogger } from '../../src/log/index.js';

function capture(): { lines: string[]; sink: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, sink: { write: (s: string) => void lines.push(s) } };
}

test('json lines parse, carry level, role and message, and hide secrets', () => {
  const { lines, sink } = capture();
  const log = createLogger({ format: 'json', level: 'info', destination: sink });
  log.child({ role: 'worker' }).warn({ authToken: 'tok-123', peer: { secret: 's3' }, disks: 2 }, 'master unreachable');
  log.debug('not shown at info');
  expect(lines).toHaveLength(1);
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(entry).toMatchObject({ level: 'warn', role: 'worker', msg: 'master unreachable', disks: 2 });
  expect(lines[0]).not.toContain('tok-123');
  expect(lines[0]).not.toContain('s3');
});

test('text lines are one line each, with fields and hidden secrets', () => {
  const { lines, sink } = capture();
  const log = createLogger({ format: 'text', level: 'debug', destination: sink });
  log.child({ role: 'master' }).info({ worker: '10.0.0.2:9099', token: 'abc', note: 'two words' }, 'worker registered');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\S+ INFO {2}master {2}worker registered {2}worker=10\.0\.0\.2:9099 token=<hidden> note="two words"\n$/);
});

test('a Writable works as a destination too', async () => {
  const chunks: string[] = [];
  const out = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) });
  createLogger({ format: 'json', destination: out }).error({ err: new Error('boom') }, 'failed');
  await new Promise((r) => setImmediate(r));
  expect(JSON.parse(chunks.join(''))).toMatchObject({ level: 'error', msg: 'failed', err: { message: 'boom' } });
});
