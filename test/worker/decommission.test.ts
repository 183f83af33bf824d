/**
 * Decommission through the admin RPC, on one real worker: no new slots or
 * pushes, commits and reads still served, the status says what it waits
 * for, and once the last shuffle is unregistered the worker stops by itself.
 */
import { expect, test } from 'vitest';
import { DecommissionWorker, ErrorCodes, GetStatus, PushStatus, Role, UnregisterShuffle } from '../../src/protocol/index.js';
import { batch, commit, connections, fileName, open, primary, pushData, readFile, rejectsWith, reserve, worker } from './harness.js';

const KEY = 'app-1';

test('a decommissioned worker takes no new work, serves commits and reads, and stops once its shuffles are unregistered', async () => {
  const w = await worker({ decommissionTimeoutMs: 60_000 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0), primary(1)]);
  const kept = batch({ mapId: 0, attemptId: 0, batchId: 0 }, 1000);
  expect(await pushData(client, KEY, 0, kept)).toBe(PushStatus.SUCCESS);

  // Only an admin connection may ask for it (the access table).
  await rejectsWith(client.call(DecommissionWorker, {}), ErrorCodes.FORBIDDEN);
  await rejectsWith(lm.call(DecommissionWorker, {}), ErrorCodes.FORBIDDEN);
  const admin = await open(w.address, Role.Admin, '');
  const answer = JSON.parse((await admin.call(DecommissionWorker, {})).json.toString()) as Record<string, unknown>;
  expect(answer).toMatchObject({ state: 'decommissioning', shuttingDown: true, waitingFor: { what: 'shuffles', shuffles: [{ key: KEY, files: 2, uncommitted: 2 }] } });

  // New work goes elsewhere: pushes are redirected, reservations refused.
  expect(await pushData(client, KEY, 1, batch({ mapId: 0, attemptId: 0, batchId: 1 }, 10))).toBe(PushStatus.HARD_SPLIT);
  await rejectsWith(reserve(lm, 2, [primary(0)]), ErrorCodes.SHUTTING_DOWN);
  // What it holds is committed and read as usual.
  await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }, { partitionId: 1, epoch: 0, mode: 0 }]);
  expect((await readFile(client, KEY, fileName(0))).data).toEqual(kept);
  const status = JSON.parse((await admin.call(GetStatus, {})).json.toString()) as Record<string, unknown>;
  expect(status).toMatchObject({ state: 'decommissioning', waitingFor: { what: 'shuffles', shuffles: [{ key: KEY, files: 2, uncommitted: 0 }] } });

  let stopped = false;
  void w.stopped.then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 300));
  expect(stopped).toBe(false);
  await lm.call(UnregisterShuffle, { appId: 'app', shuffleId: 1 });
  await w.stopped;
  expect(w.status().state).toBe('stopped');
});

test('a stop during a decommission no longer waits for reads, only for commits', async () => {
  const w = await worker({ decommissionTimeoutMs: 60_000, drainTimeoutMs: 60_000 });
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  expect(await pushData(client, KEY, 0, batch({ mapId: 0, attemptId: 0, batchId: 0 }, 100))).toBe(PushStatus.SUCCESS);
  await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  expect(w.decommission()).toMatchObject({ state: 'decommissioning', waitingFor: { what: 'shuffles' } });
  const started = Date.now();
  await w.close();
  expect(Date.now() - started).toBeLessThan(5000);
  expect(w.status().state).toBe('stopped');
});
