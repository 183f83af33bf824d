/**
 * `npm start` and the CLI's embedded cluster: scripts/start.mjs (what `npm
 * start` runs) sorts and validates on a cluster of its own, and an
 * interrupted run removes that cluster's temporary data.
 */
import { readdirSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import { CLI, START, cleanup, run, start, tempDir } from './helpers.js';

afterEach(cleanup);

test('node scripts/start.mjs --size 64m sorts, validates and cleans up after itself', async () => {
  // A private TMPDIR: the embedded cluster keeps its data there and must remove it.
  const tmp = await tempDir('start');
  // start.mjs rebuilds first when src/ is newer than dist/ (not the case right after `npm test` built).
  const r = await run([START, '--size', '64m', '--maps', '4', '--reduces', '4'], 150_000, { TMPDIR: tmp });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^terasort: 64\.0 MiB \(671088 records\) in [\d.]+ s, .*\/s, validated$/m);
  expect(r.stderr).toContain('embedded cluster:');
  expect(readdirSync(tmp)).toEqual([]);
}, 160_000);

test('SIGINT during a job on the embedded cluster removes its data and exits 130', async () => {
  const tmp = await tempDir('interrupt');
  const p = start([CLI, 'terasort', '--size', '512m', '--maps', '4', '--reduces', '4'], 'braid terasort', { TMPDIR: tmp });
  await p.waitFor(/embedded cluster: .* data in (\S+)/, 30_000, 'stderr');
  // Wait until partition files exist (<dataDir>/worker-i/<appId>/...), so there is data to remove.
  const partitionFiles = (): string[] => readdirSync(tmp, { recursive: true, encoding: 'utf8' }).filter((f) => /worker-\d+\/app-/.test(f));
  for (let i = 0; i < 600 && partitionFiles().length === 0 && p.running; i++) await new Promise((r) => setTimeout(r, 50));
  expect(partitionFiles()).not.toEqual([]);
  const stopped = await p.stop('SIGINT', 15_000);
  expect(stopped).toMatchObject({ code: 130, signal: null });
  expect(p.stderr).toContain('SIGINT, removing the embedded cluster');
  expect(readdirSync(tmp)).toEqual([]);
}, 60_000);
