/**
 * Once per test run: a development CA with a node certificate (scripts/dev-certs.sh,
 * the script operators use) and a cluster secret, in one temporary directory
 * that is removed when the run ends. Tests get the paths through
 * `inject('braidSecurity')`; see test/security/fixture.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export interface BraidTestSecurity {
  /** Directory holding everything below. */
  dir: string;
  secretFile: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A second CA and node certificate that Braid's CA did not sign (for refusal tests). */
  foreign: { caFile: string; certFile: string; keyFile: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    braidSecurity: BraidTestSecurity;
  }
}

const SCRIPT = fileURLToPath(new URL('../scripts/dev-certs.sh', import.meta.url));

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'braid-test-security-'));
  execFileSync('sh', [SCRIPT, join(dir, 'ca')], { stdio: 'ignore' });
  execFileSync('sh', [SCRIPT, join(dir, 'foreign')], { stdio: 'ignore' });
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  project.provide('braidSecurity', {
    dir,
    secretFile,
    caFile: join(dir, 'ca', 'ca.pem'),
    certFile: join(dir, 'ca', 'node.pem'),
    keyFile: join(dir, 'ca', 'node-key.pem'),
    foreign: { caFile: join(dir, 'foreign', 'ca.pem'), certFile: join(dir, 'foreign', 'node.pem'), keyFile: join(dir, 'foreign', 'node-key.pem') },
  });
  return () => rmSync(dir, { recursive: true, force: true });
}
