import { beforeEach, describe, expect, it } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { ErrorCodes, FetchFailureStatus, PushStatus, ReportShuffleFetchFailure } from '../../src/protocol/index.js';
import { connectClient, useLifecycleEnv } from './fakes.js';

const APP = 'app-ff';
const { ACCEPTED, INVALID_REQUEST } = FetchFailureStatus;

describe('LifecycleManager fetch-failure reports', () => {
  let unregistered: number[] = [];
  beforeEach(() => {
    unregistered = [];
  });
  const env = useLifecycleEnv(APP, () => ({ maxFetchFailures: 2, onUnregisterAllMapOutput: (id) => unregistered.push(id) }));

  const report = (lm: LifecycleManager, shuffleId: number, stageAttemptId: number, partitionId: number, appId = APP) =>
    lm.reportFetchFailure({ appId, shuffleId, stageAttemptId, partitionId, error: 'chunk fetch failed' });

  it('rejects a report from another application with INVALID_REQUEST and a message', async () => {
    const lm = await env.start();
    const a = await report(lm, 0, 0, 0, 'wrong-app');
    expect(a).toMatchObject({ status: INVALID_REQUEST, reSubmitWholeStage: false });
    expect(a.message).toContain('wrong-app');
    // It counted for nothing.
    expect(await report(lm, 0, 0, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
  });

  it('counts per partition and asks to re-submit the stage at maxFetchFailures, calling the engine once', async () => {
    const lm = await env.start({ maxFetchFailures: 3 });
    expect(await report(lm, 1, 0, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    expect(await report(lm, 1, 0, 1)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    expect(await report(lm, 1, 0, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    // Another shuffle's failures are counted apart.
    expect(await report(lm, 2, 0, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    expect(unregistered).toEqual([]);
    const third = await report(lm, 1, 0, 0);
    expect(third).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: true });
    expect(third.message).toMatch(/re-submit/);
    expect(unregistered).toEqual([1]);
    // Past the limit the answer stays "re-submit", but the engine is told only once per stage attempt.
    expect(await report(lm, 1, 0, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: true });
    expect(await report(lm, 1, 0, 1)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    expect(await report(lm, 1, 0, 1)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: true });
    expect(unregistered).toEqual([1]);
  });

  it('rejects a report from an older stage attempt and resets counts for a newer one', async () => {
    const lm = await env.start();
    expect(await report(lm, 3, 1, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    const old = await report(lm, 3, 0, 0);
    expect(old).toMatchObject({ status: INVALID_REQUEST, reSubmitWholeStage: false });
    expect(old.message).toContain('older stage attempt');
    // Attempt 1 reaches the limit.
    expect(await report(lm, 3, 1, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: true });
    expect(unregistered).toEqual([3]);
    // Attempt 2 starts from zero, and may trigger once more.
    expect(await report(lm, 3, 2, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
    expect(await report(lm, 3, 1, 0)).toMatchObject({ status: INVALID_REQUEST });
    expect(await report(lm, 3, 2, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: true });
    expect(unregistered).toEqual([3, 3]);
  });

  it('rejects a partition outside a registered shuffle', async () => {
    const lm = await env.start();
    await lm.registerShuffle(4, 1, 2);
    expect(await report(lm, 4, 0, 2)).toMatchObject({ status: INVALID_REQUEST });
    expect(await report(lm, 4, 0, 1)).toMatchObject({ status: ACCEPTED });
  });

  it('serves the reports over the wire and survives a throwing callback', async () => {
    const lm = await env.start({
      maxFetchFailures: 1,
      onUnregisterAllMapOutput: () => {
        throw new Error('engine bug');
      },
    });
    const conn = env.closer.addConnection(await connectClient(lm.address, APP));
    const call = (appId: string, stageAttemptId: number) =>
      conn.call(ReportShuffleFetchFailure, { appId, shuffleId: 5, stageAttemptId, partitionId: 0, error: 'boom' });
    expect(await call(APP, 1)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: true });
    expect(await call('other', 1)).toMatchObject({ status: INVALID_REQUEST, reSubmitWholeStage: false });
    expect(await call(APP, 0)).toMatchObject({ status: INVALID_REQUEST, reSubmitWholeStage: false });
  });

  it('forgets a shuffle’s counts when it is unregistered', async () => {
    const lm = await env.start();
    expect(await report(lm, 6, 3, 0)).toMatchObject({ status: ACCEPTED });
    await lm.unregisterShuffle(6);
    // The newest-attempt memory is gone: attempt 0 is fine again.
    expect(await report(lm, 6, 0, 0)).toMatchObject({ status: ACCEPTED, reSubmitWholeStage: false });
  });

  it('re-submitting resets the map stage: the re-run maps win and the shuffle commits again', async () => {
    const lm = await env.start();
    const locations = await lm.registerShuffle(7, 2, 1);
    await lm.mapperEnd({ shuffleId: 7, mapId: 0, attemptId: 0, numMappers: 2, partitions: [{ partitionId: 0, batches: 1, bytes: 1, crc: 1 }] });
    await lm.mapperEnd({ shuffleId: 7, mapId: 1, attemptId: 0, numMappers: 2, partitions: [] });
    const first = await lm.getReducerFileGroup(7, 0, 1);
    expect(first.mapAttempts).toEqual([0, 0]);
    await report(lm, 7, 0, 0);
    expect(await report(lm, 7, 0, 0)).toMatchObject({ reSubmitWholeStage: true });
    expect(unregistered).toEqual([7]);

    // Readers now wait for the re-run.
    await expect(lm.waitForStageEnd(7, 50)).rejects.toMatchObject({ code: ErrorCodes.STAGE_NOT_ENDED });
    // The re-run's writers find epoch 0 committed and revive to epoch 1.
    const [r] = await lm.revive(7, [{ partitionId: 0, epoch: 0, mapId: 0, attemptId: 10, cause: PushStatus.FAIL_LOCATION_COMMITTED }]);
    expect(r).toMatchObject({ status: PushStatus.SUCCESS, location: { epoch: 1 } });
    expect(await lm.mapperEnd({ shuffleId: 7, mapId: 0, attemptId: 10, numMappers: 2, partitions: [{ partitionId: 0, batches: 2, bytes: 2, crc: 2 }] })).toEqual({
      winner: true,
      allMappersEnded: false,
    });
    expect(await lm.mapperEnd({ shuffleId: 7, mapId: 1, attemptId: 11, numMappers: 2, partitions: [] })).toEqual({ winner: true, allMappersEnded: true });
    const second = await lm.getReducerFileGroup(7, 0, 1);
    expect(second.mapAttempts).toEqual([10, 11]);
    expect(second.partitions[0]!.expected).toEqual([{ mapId: 0, batches: 2, bytes: 2, crc: 2 }]);
    // Only the re-run's epoch is read: epoch 0 holds only the first attempt's maps, which readers drop.
    expect([...new Set(second.partitions[0]!.files.map((f) => f.epoch))]).toEqual([1]);
    const commits = env.cluster.workers.flatMap((w) => w.commits);
    expect(commits.filter((c) => c.mapAttempts.join() === '10,11').length).toBeGreaterThan(0);
    expect(locations).toHaveLength(1);
  });

  it('resetForStageRetry is refused for an unknown shuffle', async () => {
    const lm = await env.start();
    expect(() => lm.resetForStageRetry(99)).toThrow(expect.objectContaining({ code: ErrorCodes.UNKNOWN_SHUFFLE }));
  });
});
