/**
 * Full disks, for real: workers whose data directory is a small tmpfs.
 *
 * - With replication on, a worker's disk keeps its reserve: replicas check
 *   it as primaries do, refuse what would go below it (the primary answers
 *   FAIL_REPLICA and the writer revives elsewhere), and the job is exact.
 * - With replication off, data a worker acknowledged is not dropped when the
 *   disk fills behind its back before the flush: the file moves, with what
 *   it held in memory, to another data directory of the worker, the commit
 *   succeeds and every partition reads exactly.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from './cluster.js';
import { expectExact, mapSpecs, readAll, runMaps, startJobEnv } from './job.js';
import { canMount, fill, freeBytes, smallDisk } from './small-disk.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe.skipIf(!canMount)('disk full (tmpfs, needs root)', () => {
  test('replicas keep the disk reserve: a 24 MiB disk with a 12 MiB reserve never drops below it, and the job is exact', async () => {
    const disk = await smallDisk('24m');
    const { cluster, procs } = await startJobEnv({ replicate: true, workers: 2, processes: 2, client: { compression: 'none' } });
    await cluster.addWorker([disk], ['--disk-reserve', '12m']);
    let lowest = await freeBytes(disk);
    let watching = true;
    const watch = (async () => {
      while (watching) {
        lowest = Math.min(lowest, await freeBytes(disk));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const shuffleId = 51;
    // 4 maps × 10 × 1 MiB = 40 MiB, two copies of each: about 26 MiB would land on the small disk.
    const maps = await runMaps(procs, mapSpecs(shuffleId, 4, 6, 51, 10, { sizes: Array.from({ length: 10 }, () => MiB), method: 'pushData' })).finally(() => {
      watching = false;
    });
    await watch;
    const reads = await readAll(procs, shuffleId, 6);
    expectExact(maps, reads, 6);
    // The small disk took data, and kept its reserve (within the filesystem's own overhead).
    expect(lowest).toBeLessThan(20 * MiB);
    expect(lowest, `lowest free ${lowest} bytes`).toBeGreaterThanOrEqual(12 * MiB - 512 * KiB);
    process.stdout.write(`disk-full: lowest free on the small disk ${(lowest / MiB).toFixed(2)} MiB (reserve 12 MiB)\n`);
  });

  test('acknowledged data survives a disk that fills before the flush: the file moves to another data directory', async () => {
    const disk = await smallDisk('16m');
    const roomy = join(await tempDir('braid-e2e-roomy-'), 'data');
    await mkdir(roomy);
    const { cluster, lm, procs } = await startJobEnv({ replicate: false, workers: 0, processes: 2, client: { compression: 'none' } });
    // Nothing is flushed before the commit; the metadata store lives on the roomy disk (the first one).
    await cluster.addWorker([roomy, disk], ['--flush-threshold', '64m']);
    const shuffleId = 52;
    const R = 4;
    const specs = mapSpecs(shuffleId, 2, R, 52, 16, { sizes: Array.from({ length: 16 }, () => 64 * KiB), method: 'pushData' });
    const first = await runMaps(procs, [specs[0]!]);
    const last = procs[1]!.map({ ...specs[1]!, pauseAt: [16], drainAtPause: true });
    expect(await last.nextPause()).toBe(16);
    // Every batch is acknowledged and still in the worker's memory; now the disk fills up behind its back.
    fill(disk);
    expect(await freeBytes(disk)).toBe(0);
    last.resume();
    const maps = [...first, await last.result];
    const result = await lm.waitForStageEnd(shuffleId);
    expect(result.partitions.map((p) => p.lost)).toEqual(Array.from({ length: R }, () => false));
    expectExact(maps, await readAll(procs, shuffleId, R), R);
  });
});
