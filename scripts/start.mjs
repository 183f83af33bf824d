#!/usr/bin/env node
// `npm start`: builds if needed, then runs a 1 GiB TeraSort through an
// embedded standalone cluster (a master and 2 workers, replication on, data in
// a temporary directory that is removed afterwards). Extra arguments go to
// `braid terasort`, e.g. `npm start -- --size 256m`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli', 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (!existsSync(cli) || statSync(cli).mtimeMs < newestSource(join(root, 'src'))) {
  process.stderr.write('building...\n');
  const build = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const args = ['terasort', '--size', '1g', '--maps', '8', '--reduces', '8', ...process.argv.slice(2)];
// glibc keeps 64 MiB of freed memory instead of returning it to the kernel (see docs/operations.md).
const env = { MALLOC_TOP_PAD_: String(64 * 1024 * 1024), ...process.env };
const run = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', env });
process.exit(run.status ?? 1);
