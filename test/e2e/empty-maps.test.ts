/**
 * Maps with no records, across real processes. A map that pushes nothing
 * never registers the shuffle (registration is lazy, at the first push), so
 * its mapperEnd can reach the LifecycleManager before any registration: it
 * must count towards the stage end, and readers of partitions nobody pushed
 * to must read nothing. A stage whose every map is empty ends too. And an
 * epoch that holds nothing of a winner cannot lose data: its worker dying
 * before the commit must not mark the partition lost.
 */
import { expect, test } from 'vitest';
import { addressKey } from '../../src/protocol/index.js';
import { waitFor } from './cluster.js';
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

test('an epoch opened by a split that got no data is not lost when its worker dies before the commit', async () => {
  // Every first batch of an epoch splits it (SOFT_SPLIT: kept, move on), so epoch 1 is opened on the other worker and left empty.
  const { cluster, lm, procs } = await startJobEnv({ replicate: false, workers: 2, processes: 1, lifecycle: { splitThreshold: 1 } });
  const shuffleId = 33;
  const run = procs[0]!.map({ ...mapSpecs(shuffleId, 1, 1, 5, 1, { maxSize: 2048 })[0]!, pauseAt: [1], drainAtPause: true });
  expect(await run.nextPause()).toBe(1);
  await waitFor(() => lm.liveLocations(shuffleId).length === 2, 10_000, 'epoch 1 to be opened by the split');
  const [e0, e1] = lm.liveLocations(shuffleId);
  expect(addressKey(e1!.primary)).not.toBe(addressKey(e0!.primary));
  await cluster.worker(addressKey(e1!.primary)).kill('SIGKILL');
  run.resume();
  const map = await run.result;
  const result = await lm.waitForStageEnd(shuffleId);
  expect(result.partitions.map((p) => [p.lost, p.files.map((f) => f.epoch)])).toEqual([[false, [0]]]);
  expectExact([map], await readAll(procs, shuffleId, 1), 1);
});
