/**
 * Tiny split thresholds: workers answer SOFT_SPLIT above 16 KiB and
 * HARD_SPLIT (batch not taken) when a batch would take a file above 64 KiB,
 * so partitions move through many epochs while six maps push to them at
 * once, and batches larger than the hard limit bounce until they land in a
 * fresh epoch. Every epoch is read; results must be exact.
 */
import { expect, test } from 'vitest';
import { committedBytes, epochsPerPartition, expectExact, mapSpecs, readAll, runMaps, startJobEnv } from './job.js';

const M = 6;
const R = 8;

test('many epochs through soft and hard splits, results exact', async () => {
  const { cluster, lm, procs } = await startJobEnv({
    replicate: true,
    workerArgs: ['--split-threshold', '16k', '--hard-split-limit', '64k'],
    client: { compression: 'none' },
  });
  const shuffleId = 11;
  const maps = await runMaps(procs, mapSpecs(shuffleId, M, R, 4000, 40, { maxSize: 256 * 1024 }));
  const reads = await readAll(procs, shuffleId, R);
  expectExact(maps, reads, R);

  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  const epochs = epochsPerPartition(group);
  expect(Math.min(...epochs), `epochs per partition: ${epochs.join(',')}`).toBeGreaterThanOrEqual(3);
  // A HARD_SPLIT batch is not stored, so nothing is stored twice: the bytes are exact.
  const wire = maps.reduce((n, m) => n + m.wireBytes, 0);
  expect(committedBytes(group)).toEqual({ primary: wire, replica: wire });

  const splits = async (kind: string) => (await Promise.all(cluster.workers.map((w) => w.counter('braid_splits_total', `kind="${kind}"`)))).reduce((a, b) => a + b, 0);
  expect(await splits('soft')).toBeGreaterThan(0);
  expect(await splits('hard')).toBeGreaterThan(0);
});
