/**
 * The worker's link to its master, against a small master inside the test
 * (a real TransportServer and RpcRouter answering RegisterWorker and
 * WorkerHeartbeat): registration, heartbeats carrying the active shuffle
 * keys, deletion of shuffles the master reports expired, registering again
 * when the master no longer knows the worker, and a last heartbeat saying
 * the worker is shutting down.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ErrorCodes, MessageType, RegisterWorker, Role, WorkerHeartbeat, addressKey, type Address } from '../../src/protocol/index.js';
import { RpcRouter, TransportServer } from '../../src/transport/index.js';
import { batch, commit, connections, fileName, onCleanup, openStream, primary, pushData, readFile, rejectsWith, reserve, waitFor, worker } from './harness.js';

interface Beat {
  address: Address;
  activeShuffleKeys: string[];
  shuttingDown: boolean;
}

async function fakeMaster() {
  const state = {
    registrations: [] as Address[],
    beats: [] as Beat[],
    /** What the next heartbeats answer. */
    known: true,
    expired: [] as string[],
  };
  const router = new RpcRouter()
    .on(RegisterWorker, (req) => {
      state.registrations.push(req.address);
      state.known = true;
      return { heartbeatIntervalMs: 100 };
    })
    .on(WorkerHeartbeat, (req) => {
      state.beats.push({ address: req.address, activeShuffleKeys: req.activeShuffleKeys, shuttingDown: req.shuttingDown });
      return { registered: state.known, expiredShuffleKeys: state.expired, expiredAppIds: [] };
    });
  const server = await TransportServer.listen({
    role: Role.Master,
    onRequest: (msg, conn) => {
      if (msg.type === MessageType.RpcRequest) router.dispatch(msg, conn);
    },
  });
  onCleanup(() => server.close());
  return { server, state };
}

const exists = (p: string) => access(p).then(() => true, () => false);

test('the worker registers, heartbeats its shuffles, deletes expired ones and registers again when unknown', async () => {
  const { server, state } = await fakeMaster();
  const w = await worker({ master: server.address, heartbeatIntervalMs: 100 });
  // startWorker waits for the first registration.
  expect(state.registrations.map(addressKey)).toEqual([addressKey(w.address)]);
  expect(w.status().registered).toBe(true);

  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  await reserve(lm, 2, [primary(0)]);
  const b = batch({ mapId: 0, attemptId: 0, batchId: 0 }, 10);
  expect(await pushData(client, 'app-1', 0, b)).toBe(0);
  expect(await pushData(client, 'app-2', 0, b)).toBe(0);
  await commit(lm, 1, [{ partitionId: 0, epoch: 0, mode: 0 }]);
  await commit(lm, 2, [{ partitionId: 0, epoch: 0, mode: 0 }]);

  const n = state.beats.length;
  await waitFor(() => state.beats.slice(n).some((x) => x.activeShuffleKeys.includes('app-1') && x.activeShuffleKeys.includes('app-2')), 'a heartbeat with both shuffles');
  expect(state.beats.every((x) => addressKey(x.address) === addressKey(w.address) && !x.shuttingDown)).toBe(true);

  // The master expires app-1: its directory goes, reads of it fail, app-2 stays.
  const dir1 = join(w.options.dataDirs[0]!, 'app', '1');
  expect(await exists(dir1)).toBe(true);
  state.expired = ['app-1'];
  await waitFor(async () => !(await exists(dir1)), 'the expired shuffle’s directory to be deleted');
  state.expired = [];
  await rejectsWith(openStream(client, 'app-1', fileName(0)), ErrorCodes.UNKNOWN_SHUFFLE);
  expect(await pushData(client, 'app-1', 0, b)).toBe(16);
  expect((await readFile(client, 'app-2', fileName(0))).data.equals(b)).toBe(true);
  const m = state.beats.length;
  await waitFor(() => state.beats.length > m + 1, 'two more heartbeats');
  expect(state.beats[state.beats.length - 1]!.activeShuffleKeys).toEqual(['app-2']);

  // The master forgets the worker: the worker registers again.
  state.known = false;
  // The fake master records the registration before its answer reaches the worker: wait for both.
  await waitFor(() => state.registrations.length === 2 && w.status().registered, 'a second registration, answered');
  expect(state.registrations).toHaveLength(2);

  // Closing tells the master first.
  await w.close();
  expect(state.beats[state.beats.length - 1]!.shuttingDown).toBe(true);
});

test('a master that is down at start does not stop the worker; it registers once the master is back', async () => {
  const { server, state } = await fakeMaster();
  const address = server.address;
  await server.close();
  const w = await worker({ master: address, heartbeatIntervalMs: 100 });
  expect(w.status().registered).toBe(false);
  // The worker serves without a master.
  const { lm, client } = await connections(w);
  await reserve(lm, 1, [primary(0)]);
  expect(await pushData(client, 'app-1', 0, batch({ mapId: 0, attemptId: 0, batchId: 0 }, 1))).toBe(0);

  const router = new RpcRouter()
    .on(RegisterWorker, (req) => {
      state.registrations.push(req.address);
      return { heartbeatIntervalMs: 100 };
    })
    .on(WorkerHeartbeat, () => ({ registered: true, expiredShuffleKeys: [], expiredAppIds: [] }));
  const again = await TransportServer.listen({
    role: Role.Master,
    port: address.port,
    onRequest: (msg, conn) => {
      if (msg.type === MessageType.RpcRequest) router.dispatch(msg, conn);
    },
  });
  onCleanup(() => again.close());
  await waitFor(() => state.registrations.length === 1 && w.status().registered, 'registration with the restarted master');
});
