/**
 * Executors' local directories are deleted when their application is
 * removed, so they must lie inside the roots the worker is configured with
 * (essLocalDirRoots), judged where they really are (symlinks resolved), at
 * registration and again just before a deletion. Without roots the service
 * takes no registration. An application the master expires is removed as
 * ApplicationRemoved with cleanup would.
 */
import { access, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApplicationHeartbeat, ApplicationRemoved, ErrorCodes, GetEssMetrics, Role } from '../../src/protocol/index.js';
import { startMaster } from '../../src/server/master/index.js';
import { connect, type Connection } from '../../src/transport/index.js';
import { expectCode, open, register, tempDir, worker, writeMaps } from './harness.js';

const exists = (p: string) => access(p).then(() => true, () => false);

async function registered(conn: Connection): Promise<number> {
  return (JSON.parse((await conn.call(GetEssMetrics, {})).json.toString('utf8')) as { registeredExecutors: number }).registeredExecutors;
}

/** A directory outside every root, with a file in it that must survive. */
async function victim(): Promise<{ dir: string; file: string }> {
  const dir = join(await tempDir('braid-ess-victim-'), 'precious');
  await mkdir(dir);
  const file = join(dir, 'keep.txt');
  await writeFile(file, 'keep me');
  return { dir, file };
}

describe('local directories must lie inside the worker\'s roots', () => {
  it('a worker without roots refuses every registration', async () => {
    const w = await worker({ essLocalDirRoots: [] });
    const conn = await open(w);
    const dir = join(await tempDir('braid-ess-exec-'), 'blockmgr-0');
    const err = await expectCode(register(conn, '1', [dir], 4), ErrorCodes.PATH_NOT_ALLOWED);
    expect(err.message).toContain('essLocalDirRoots');
    expect(await registered(conn)).toBe(0);
  });

  it('a directory outside the roots is refused, and ApplicationRemoved with cleanup deletes nothing outside them', async () => {
    const root = await tempDir('braid-ess-root-');
    const w = await worker({ essLocalDirRoots: [root] });
    const conn = await open(w);
    const v = await victim();
    await expectCode(register(conn, '1', [v.dir], 4), ErrorCodes.PATH_NOT_ALLOWED);
    // The root itself is not a directory of one executor: deleting it would take every executor's files.
    await expectCode(register(conn, '2', [root], 4), ErrorCodes.PATH_NOT_ALLOWED);
    await conn.call(ApplicationRemoved, { appId: 'app', cleanupLocalDirs: true });
    expect(await exists(v.file)).toBe(true);
    expect(await exists(root)).toBe(true);
    // Inside the root, registration and cleanup work as before.
    const inside = join(root, 'blockmgr-0');
    await register(conn, '3', [inside], 4);
    await writeMaps([inside], 4, 0, 1, 2, () => 10);
    await conn.call(ApplicationRemoved, { appId: 'app', cleanupLocalDirs: true });
    expect(await exists(inside)).toBe(false);
    expect(await registered(conn)).toBe(0);
  });

  it('a symlink that leads out of the roots is refused, also one planted after the registration', async () => {
    const root = await tempDir('braid-ess-root-');
    const w = await worker({ essLocalDirRoots: [root] });
    const conn = await open(w);
    const v = await victim();
    await symlink(v.dir, join(root, 'link'));
    const err = await expectCode(register(conn, '1', [join(root, 'link')], 4), ErrorCodes.PATH_NOT_ALLOWED);
    expect(err.message).toContain(v.dir);
    // root/later does not exist yet, so root/later/precious is inside the root at registration...
    await register(conn, '2', [join(root, 'later', 'precious')], 4);
    // ...and then root/later becomes a symlink to the victim's parent.
    await symlink(join(v.dir, '..'), join(root, 'later'));
    await conn.call(ApplicationRemoved, { appId: 'app', cleanupLocalDirs: true });
    expect(await exists(v.file)).toBe(true);
    expect(await registered(conn)).toBe(0);
  });
});

describe('an application the master expires', () => {
  it('is removed from the external shuffle service with its directories; one the master never knew stays', async () => {
    const master = await startMaster({ appTimeoutMs: 400, workerTimeoutMs: 3000, heartbeatIntervalMs: 100, insecure: true });
    try {
      const root = await tempDir('braid-ess-root-');
      const w = await worker({ master: master.address, heartbeatIntervalMs: 100, essLocalDirRoots: [root] });
      // The application heartbeats once, as its LifecycleManager would, and then goes silent.
      const lm = await connect(master.address, { role: Role.LifecycleManager, appId: 'app' });
      await lm.call(ApplicationHeartbeat, { appId: 'app', shuffleIds: [] });
      lm.close();
      const conn = await open(w, Role.Client, 'app');
      const dir = join(root, 'app-exec-1');
      await register(conn, '1', [dir], 4);
      await writeMaps([dir], 4, 0, 1, 2, () => 10);
      const other = await open(w, Role.Client, 'ess-only');
      const otherDir = join(root, 'ess-only-exec-1');
      await register(other, '1', [otherDir], 4, 'ess-only');
      await writeMaps([otherDir], 4, 0, 1, 2, () => 10);

      const deadline = Date.now() + 10_000;
      while ((await exists(dir)) || (await registered(conn)) !== 1) {
        if (Date.now() > deadline) throw new Error('the expired application was not removed');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(master.status().applications.map((a) => a.appId)).not.toContain('app');
      expect(await exists(otherDir)).toBe(true);
    } finally {
      await master.close();
    }
  });
});
