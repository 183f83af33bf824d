/**
 * Maps with no records, across real processes. A map that pushes nothing
 * never registers the shuffle (registration is lazy, at the first push), so
 * its mapperEnd can reach the LifecycleManager before any registration: it
 * must count towards the stage end, and readers of partitions nobody pushed
 * to must read nothing. A stage whose every map is empty ends too.
 */
import { expect, test } from 'vitest';
import { expectExact, mapSpecs, readAll, runMaps, startJobEnv } from './job.js';

test('empty maps that end before any push registered the shuffle count; empty partitions and all-empty stages read nothing', async () => {
  const M = 4;
  const R = 8;
  const { lm, procs } = await startJobEnv({ replicate: true, processes: 2 });
  const shuffleId = 31;
  const specs = mapSpecs(shuffleId, M, R, 77, 6, { maxSize: 4096 });
  // Maps 0..2 have no records and end first, while nothing is registered; map 3 pushes 6 batches.
  const empty = await runMaps(procs, specs.slice(0, 3).map((s) => ({ ...s, batches: 0, sizes: [] })));
  expect(empty.map((m) => [m.winner, m.allMappersEnded])).toEqual([
    [true, false],
    [true, false],
    [true, false],
  ]);
  expect(lm.shuffleIds()).toEqual([]);
  const [full] = await runMaps(procs, [specs[3]!]);
  expect(full!.allMappersEnded).toBe(true);
  const maps = [...empty, full!];
  const reads = await readAll(procs, shuffleId, R);
  expectExact(maps, reads, R);
  // Six batches over eight partitions: some partitions are empty and read as such.
  expect(reads.filter((r) => r.digests.length === 0).length).toBeGreaterThanOrEqual(2);

  // A stage whose every map is empty ends; every partition reads nothing.
  const allEmpty = await runMaps(procs, mapSpecs(32, 3, 5, 1, 0, { sizes: [] }));
  expect(allEmpty.every((m) => m.winner)).toBe(true);
  expect(allEmpty.filter((m) => m.allMappersEnded)).toHaveLength(1);
  const emptyReads = await readAll(procs, 32, 5);
  expect(emptyReads.map((r) => r.digests)).toEqual([[], [], [], [], []]);
  expect((await lm.waitForStageEnd(32)).mapAttempts).toEqual([0, 0, 0]);
});
