import { access, mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/protocol/errors.js';
import { Mode } from '../../src/protocol/types.js';
import { DataDirs } from '../../src/storage/data-dirs.js';
import { deleteApp, deleteShuffle, shuffleDir } from '../../src/storage/files.js';
import { PartitionWriter } from '../../src/storage/partition-writer.js';
import { tempDir } from './helpers.js';

const GiB = 1024 * 1024 * 1024;

describe('DataDirs', () => {
  let tmp: { path: string; remove: () => Promise<void> };
  let paths: string[];
  beforeEach(async () => {
    tmp = await tempDir('dirs');
    paths = ['a', 'b', 'c'].map((n) => join(tmp.path, n));
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it('creates the directories and picks them round-robin', async () => {
    const dirs = await DataDirs.open(paths, { reserveBytes: 0 });
    await Promise.all(paths.map((p) => access(p)));
    const picked = Array.from({ length: 6 }, () => dirs.pick().path);
    expect(picked).toEqual([...paths, ...paths]);
    const status = dirs.status();
    expect(status.map((s) => s.path)).toEqual(paths);
    for (const s of status) {
      expect(s.healthy).toBe(true);
      expect(s.totalBytes).toBeGreaterThan(0);
      expect(s.freeBytes).toBeGreaterThan(0);
      expect(s.freeBytes).toBeLessThanOrEqual(s.totalBytes);
    }
    expect(dirs.find(join(paths[1], 'x', '1', '0-0-primary'))).toBe(dirs.all[1]);
    expect(dirs.find(join(tmp.path, 'elsewhere'))).toBeUndefined();
  });

  it('skips directories at their reserve, counting bytes accepted and written since the last refresh', async () => {
    const free = (await statfs(tmp.path)).bavail * (await statfs(tmp.path)).bsize;
    // Reserve leaves 1 GiB above it; other processes will not eat that during the test.
    const dirs = await DataDirs.open(paths, { reserveBytes: free - GiB });
    const [a, b, c] = dirs.all;
    a.noteBuffered(GiB);
    expect(dirs.belowReserve(a)).toBe(true);
    a.noteWritten(GiB);
    a.noteBuffered(GiB);
    expect(dirs.wouldExceedReserve(a, 1)).toBe(true);
    expect(dirs.wouldExceedReserve(b, GiB / 2)).toBe(false);
    expect(dirs.wouldExceedReserve(b, 2 * GiB)).toBe(true);
    expect(dirs.belowReserve(b)).toBe(false);
    const picked = Array.from({ length: 4 }, () => dirs.pick());
    expect(picked).toEqual([b, c, b, c]);
    await dirs.refresh(); // statfs again: the GiB "written" never was, but the buffered GiB still counts
    expect(dirs.belowReserve(a)).toBe(true);
    a.noteWritten(GiB, false); // dropped, never to be written
    expect(dirs.belowReserve(a)).toBe(false);
    expect(dirs.status()[0].freeBytes).toBeGreaterThan(free - GiB);
  });

  it('throws DISK_FULL when no directory has space above the reserve', async () => {
    const dirs = await DataDirs.open(paths, { reserveBytes: Number.MAX_SAFE_INTEGER });
    expect(() => dirs.pick()).toThrowError(expect.objectContaining({ code: ErrorCodes.DISK_FULL }));
  });

  it('marks a directory unhealthy when its probe fails, and healthy again once it works', async () => {
    const dirs = await DataDirs.open(paths, { reserveBytes: 0 });
    const [a, b, c] = dirs.all;
    // The directory disappears and a plain file takes its place: statfs works, the probe cannot.
    await rm(b.path, { recursive: true });
    await writeFile(b.path, 'not a directory');
    await dirs.refresh();
    expect(b.healthy).toBe(false);
    expect(b.error).toBeDefined();
    expect(dirs.status()[1].healthy).toBe(false);
    expect(Array.from({ length: 4 }, () => dirs.pick())).toEqual([a, c, a, c]);

    c.markFailed(new Error('write failed'));
    expect(Array.from({ length: 2 }, () => dirs.pick())).toEqual([a, a]);
    a.markFailed();
    expect(() => dirs.pick()).toThrowError(expect.objectContaining({ code: ErrorCodes.DISK_FULL }));

    await rm(b.path);
    await mkdir(b.path);
    await dirs.refresh();
    expect(dirs.all.every((d) => d.healthy)).toBe(true);
  });

  it('keeps a directory it cannot create, marked unhealthy', async () => {
    await writeFile(join(tmp.path, 'file'), '');
    const dirs = await DataDirs.open([join(tmp.path, 'file', 'sub'), paths[0]], { reserveBytes: 0 });
    expect(dirs.status().map((s) => s.healthy)).toEqual([false, true]);
    expect(dirs.pick().path).toBe(paths[0]);
  });

  it('validates its options', async () => {
    await expect(DataDirs.open([], { reserveBytes: 0 })).rejects.toMatchObject({ code: ErrorCodes.CONFIG });
    await expect(DataDirs.open(paths, { reserveBytes: -1 })).rejects.toMatchObject({ code: ErrorCodes.CONFIG });
  });

  it('deletes a shuffle or an application on every directory', async () => {
    const dirs = await DataDirs.open(paths, { reserveBytes: 0 });
    const make = async (appId: string, shuffleId: number) => {
      for (const dir of dirs.all) {
        const w = await PartitionWriter.create({ dir, appId, shuffleId, partitionId: 0, epoch: 0, mode: Mode.Primary });
        await w.commit();
      }
    };
    await make('app', 1);
    await make('app', 2);
    await make('app2', 1);
    await deleteShuffle(dirs, 'app', 1);
    for (const d of paths) {
      await expect(access(shuffleDir(d, 'app', 1))).rejects.toThrow();
      await access(shuffleDir(d, 'app', 2));
    }
    await deleteApp(dirs, 'app');
    for (const d of paths) {
      await expect(access(join(d, 'app'))).rejects.toThrow();
      await access(shuffleDir(d, 'app2', 1));
    }
    await deleteApp(dirs, 'never-existed');
    await expect(deleteApp(dirs, '..')).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(deleteShuffle(dirs, 'app2', -1)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
  });
});
