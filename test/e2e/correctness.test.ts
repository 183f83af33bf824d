/**
 * A whole shuffle across real processes: master and 3 workers spawned from
 * the build, replication on, 6 map tasks and 8 reduce tasks in 3 task
 * processes. Every reducer must get exactly the batches the winning map
 * attempts pushed to its partition (compared as multisets of sha1 digests),
 * and map-range reads exactly those of the maps in range.
 */
import { describe, expect, test } from 'vitest';
import { waitFor } from './cluster.js';
import { committedBytes, expectExact, expectedDigests, mapSpecs, multisetDiff, readAll, runMaps, startJobEnv } from './job.js';

const M = 6;
const R = 8;

describe.each(['lz4', 'zstd'] as const)('shuffle with %s compression', (compression) => {
  test('readers get exactly what the winners pushed, whole partitions and map ranges', async () => {
    const { appId, cluster, lm, procs } = await startJobEnv({ replicate: true, client: { compression } });
    const shuffleId = 7;
    const maps = await runMaps(procs, mapSpecs(shuffleId, M, R, 1000, compression === 'lz4' ? 60 : 30));
    expect(maps.every((m) => m.winner)).toBe(true);
    expect(maps.filter((m) => m.allMappersEnded)).toHaveLength(1);

    const reads = await readAll(procs, shuffleId, R);
    expectExact(maps, reads, R);

    // Nothing failed, so every batch is stored once in its primary and once in its replica.
    const group = await lm.getReducerFileGroup(shuffleId, 0, R);
    const wire = maps.reduce((n, m) => n + m.wireBytes, 0);
    expect(committedBytes(group)).toEqual({ primary: wire, replica: wire });
    expect(group.partitions.every((p) => !p.lost)).toBe(true);

    // Map-range reads (sorted on the worker): [1, 3) and [4, 6), and one that is empty.
    for (const [start, end] of [
      [1, 3],
      [4, 6],
      [2, 2 + 1],
    ] as const) {
      const ranged = await Promise.all(
        Array.from({ length: R }, (_, p) => procs[p % procs.length]!.reduce({ shuffleId, partitionId: p, startMapIndex: start, endMapIndex: end }).result),
      );
      for (const r of ranged) {
        const expected = expectedDigests(maps, r.partitionId, start, end);
        expect({ range: [start, end], partition: r.partitionId, ...multisetDiff(expected, r.digests) }).toEqual({
          range: [start, end],
          partition: r.partitionId,
          missing: 0,
          extra: 0,
        });
      }
    }

    // Unregistering deletes the files on every worker.
    expect((await cluster.filesOf(appId)).length).toBeGreaterThan(0);
    await lm.unregisterShuffle(shuffleId);
    await waitFor(async () => (await cluster.filesOf(appId)).length === 0, 5000, 'shuffle files deleted');
  });
});
