/**
 * Speculative duplicate attempts, in different task processes: two attempts
 * of one map push DIFFERENT data (the seed includes the attempt id), so a
 * single batch of a losing attempt reaching a reader shows up as an extra
 * digest. The losers' batches really are stored on the workers (checked
 * through the committed byte counts): the readers must filter them out.
 */
import { expect, test } from 'vitest';
import { committedBytes, expectExact, mapSpecs, readAll, startJobEnv } from './job.js';
import type { MapResult } from './tasks.js';

const M = 6;
const R = 8;
const BATCHES = 40;
const HALF = BATCHES / 2;

test('only the first attempt to end is read; losers are stored but filtered, late losers are dropped', async () => {
  const { lm, procs } = await startJobEnv({ replicate: true, client: { compression: 'none' } });
  const shuffleId = 3;
  const specs = mapSpecs(shuffleId, M, R, 2000, BATCHES, { maxSize: 256 * 1024 });
  const proc = (mapId: number, attemptId: number) => procs[(mapId + attemptId) % procs.length]!;

  // Maps 1 and 4 run two attempts side by side: both push everything (and
  // wait for the acknowledgements), then one ends first and wins — attempt 1
  // for map 1, attempt 0 for map 4.
  const raced = [
    { mapId: 1, winner: 1 },
    { mapId: 4, winner: 0 },
  ].map(({ mapId, winner }) => {
    const runs = [0, 1].map((attemptId) => proc(mapId, attemptId).map({ ...specs[mapId]!, attemptId, pauseAt: [HALF, BATCHES], drainAtPause: true }));
    return { mapId, winner: runs[winner]!, loser: runs[1 - winner]! };
  });
  // Map 2's second attempt pushes half its data, then waits until the whole stage has ended.
  const late = proc(2, 1).map({ ...specs[2]!, attemptId: 1, pauseAt: [HALF], drainAtPause: true });
  const plain = [0, 2, 3, 5].map((mapId) => proc(mapId, 0).map(specs[mapId]!));

  for (const r of raced) for (const run of [r.winner, r.loser]) expect(await run.nextPause()).toBe(HALF);
  for (const r of raced) for (const run of [r.winner, r.loser]) run.resume();
  for (const r of raced) for (const run of [r.winner, r.loser]) expect(await run.nextPause()).toBe(BATCHES);
  const results: MapResult[] = [];
  for (const r of raced) {
    r.winner.resume();
    results.push(await r.winner.result);
    r.loser.resume();
    results.push(await r.loser.result);
  }
  expect(await late.nextPause()).toBe(HALF);
  results.push(...(await Promise.all(plain.map((p) => p.result))));
  await lm.waitForStageEnd(shuffleId);
  late.resume();
  const lateResult = await late.result;
  results.push(lateResult);

  const won = (mapId: number, attemptId: number) => results.find((r) => r.mapId === mapId && r.attemptId === attemptId)!.winner;
  expect([won(1, 0), won(1, 1), won(4, 0), won(4, 1), won(2, 0), won(2, 1)]).toEqual([false, true, true, false, true, false]);

  const reads = await readAll(procs, shuffleId, R);
  expectExact(results, reads, R);

  // Every attempt but the late one is wholly stored; the late one only partly (its pushes after the stage end were dropped).
  const group = await lm.getReducerFileGroup(shuffleId, 0, R);
  expect(group.mapAttempts).toEqual([0, 1, 0, 0, 0, 0]);
  const stored = committedBytes(group);
  const early = results.filter((r) => r !== lateResult).reduce((n, r) => n + r.wireBytes, 0);
  expect(stored.primary).toBeGreaterThan(early);
  expect(stored.primary).toBeLessThanOrEqual(early + lateResult.wireBytes);
  expect(stored.replica).toBe(stored.primary);
});
