/**
 * Regression: revives for one (partition, epoch) asked by different map
 * attempts must each get their own answer. A speculative loser is told
 * MAP_ENDED; a live map pushing to the same partition at the same moment must
 * get the new epoch, not the loser's MAP_ENDED (which would drop its data).
 */
import { afterEach, expect, test } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import { startStandalone } from '../../src/server/standalone.js';
import { appKey, clusterSecurity, testAppTls, testTls } from '../security/fixture.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test('a MAP_ENDED revive answer for one map does not drop another map pushing to the same partition', async () => {
  // Every file takes exactly one batch: the next push to it answers HARD_SPLIT.
  const cluster = await startStandalone({ workers: 2, ...clusterSecurity(), worker: { splitThreshold: 1, hardSplitLimit: 1 } });
  cleanups.push(() => cluster.close());
  const lm = await LifecycleManager.start({ appId: 'revive', master: cluster.masterAddress, replicate: false, authToken: appKey('revive'), tls: testTls() });
  cleanups.push(() => lm.close());
  const client = await ShuffleClient.connect({ appId: 'revive', lifecycleManager: lm.address, compression: 'none', authToken: appKey('revive'), tls: testAppTls() });
  cleanups.push(() => client.close());
  const maps = 3;
  // Map 1 attempt 0 wins, having pushed one batch to partition 0.
  await client.pushData(0, 1, 0, 0, Buffer.from('map1-winner'), undefined, undefined, maps, 1);
  expect((await client.mapperEnd(0, 1, 0, maps)).winner).toBe(true);
  // In the same turn: the loser (map 1 attempt 1) and a live map (map 2) push to partition 0.
  // Both hit HARD_SPLIT on the same epoch and revive together.
  for (let round = 0; round < 5; round++) {
    await Promise.all([
      client.pushData(0, 1, 1, 0, Buffer.from(`map1-loser-${round}`), undefined, undefined, maps, 1),
      client.pushData(0, 2, 0, 0, Buffer.from(`map2-${round}`), undefined, undefined, maps, 1),
    ]);
  }
  await client.mapperEnd(0, 1, 1, maps);
  expect((await client.mapperEnd(0, 2, 0, maps)).winner).toBe(true);
  expect((await client.mapperEnd(0, 0, 0, maps)).allMappersEnded).toBe(true);
  const got: string[] = [];
  for await (const b of client.readPartition(0, 0)) got.push(b.toString());
  expect(got.sort()).toEqual(['map1-winner', 'map2-0', 'map2-1', 'map2-2', 'map2-3', 'map2-4']);
});
