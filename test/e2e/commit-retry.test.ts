/**
 * The stage-end commit survives a worker that stops answering for a while:
 * a real worker process is paused with SIGSTOP just before the last map
 * ends, so its CommitFiles times out, and continued with SIGCONT after more
 * than one RPC timeout. Without replication its copies are the only ones;
 * the commit must ask again rather than count them as lost.
 */
import { expect, test } from 'vitest';
import { addressKey } from '../../src/protocol/index.js';
import { sleep } from './cluster.js';
import { expectExact, mapSpecs, readAll, runMaps, startJobEnv } from './job.js';

const RPC_TIMEOUT_MS = 1000;
const PAUSE_MS = 2500;

test('a worker paused past one commit timeout and continued: the commit is retried, nothing is lost', async () => {
  const M = 3;
  const R = 4;
  const { cluster, lm, procs } = await startJobEnv({
    replicate: false,
    workers: 2,
    processes: 2,
    // The pause is a slow worker, not a lost one: the master must not declare it lost meanwhile.
    masterArgs: ['--worker-timeout', '20s', '--heartbeat-interval', '1s'],
    lifecycle: { rpcTimeoutMs: RPC_TIMEOUT_MS, commitRetryMs: 20_000 },
  });
  const shuffleId = 41;
  const specs = mapSpecs(shuffleId, M, R, 4100, 12, { maxSize: 8192 });
  const first = await runMaps(procs, specs.slice(0, M - 1));
  const last = procs[0]!.map({ ...specs[M - 1]!, pauseAt: [12], drainAtPause: true });
  expect(await last.nextPause()).toBe(12);

  const victim = cluster.worker(addressKey(lm.liveLocations(shuffleId)[0]!.primary));
  victim.child.kill('SIGSTOP');
  const stopped = performance.now();
  try {
    last.resume();
    const lastResult = await last.result;
    expect(lastResult.allMappersEnded).toBe(true);
    await sleep(PAUSE_MS);
  } finally {
    victim.child.kill('SIGCONT');
  }
  const result = await lm.waitForStageEnd(shuffleId);
  // The first CommitFiles to the paused worker timed out; a later one was answered.
  expect(performance.now() - stopped).toBeGreaterThanOrEqual(PAUSE_MS);
  expect(result.partitions.map((p) => p.lost)).toEqual([false, false, false, false]);
  expect(result.partitions.some((p) => p.files.some((f) => addressKey(f.address) === victim.address))).toBe(true);
  const reads = await readAll(procs, shuffleId, R);
  expectExact([...first, await last.result], reads, R);
});
