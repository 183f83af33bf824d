/**
 * Memory bound under a push flood. The worker counts the bytes it holds
 * (pushed and not yet on disk); over `memoryLimit` it stops reading every
 * client push socket, so TCP backpressure reaches the clients, and resumes
 * below limit × lowWatermark.
 *
 * What can still be counted after the pause: a connection's socket read
 * that is being decoded when the limit is crossed is decoded to its end (a
 * read is at most 64 KiB, so at most one more whole frame), and a frame that
 * spans reads completes from bytes already read. Reading stops for every
 * push connection at once, so the peak is at most
 *   limit + clients × 2 × frameSize
 * (8.5 MiB here), far below the 12 MiB it would be if all 16 requests in
 * flight per client had been read. The test asserts that bound and prints
 * the measured peak.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { BATCH_HEADER_SIZE, Mode, PushStatus, Role, writeBatchHeader } from '../../src/protocol/index.js';
import { KiB, MiB, commit, committedOf, connections, limited, open, primary, pushData, reserve, worker } from './harness.js';

const KEY = 'app-1';

test('4 clients flooding 64 KiB pushes: held memory stays bounded, reading pauses, every byte arrives', async () => {
  const limit = 4 * MiB; // below what 8 partitions buffer before their own 1 MiB flushes, so the limit is always reached
  const clients = 4;
  const inFlight = 16;
  const perClient = 64 * MiB;
  const payload = 64 * KiB;
  const frame = BATCH_HEADER_SIZE + payload;
  const pushesPerClient = Math.ceil(perClient / frame);
  const partitionsPerClient = 2;

  const w = await worker({ memoryLimit: limit, flushThreshold: 1 * MiB, chunkSize: 8 * MiB });
  const { lm } = await connections(w);
  const partitions = clients * partitionsPerClient;
  await reserve(lm, 1, Array.from({ length: partitions }, (_, p) => primary(p)));

  const started = performance.now();
  await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        const conn = await open(w.address, Role.Client);
        // One buffer per in-flight lane: the socket has taken it once the answer is back.
        const lanes = Array.from({ length: inFlight }, () => Buffer.alloc(frame, c + 1));
        const jobs = Array.from({ length: pushesPerClient }, (_, i) => i);
        const statuses = await limited(jobs, inFlight, (i) => {
          const body = lanes[i % inFlight]!;
          writeBatchHeader(body, 0, { mapId: c, attemptId: 0, batchId: i, length: payload });
          return pushData(conn, KEY, c * partitionsPerClient + (i % partitionsPerClient), body);
        });
        expect(statuses.every((s) => s === PushStatus.SUCCESS)).toBe(true);
      }),
    );
  const seconds = (performance.now() - started) / 1000;

  const ids = Array.from({ length: partitions }, (_, p) => ({ partitionId: p, epoch: 0, mode: Mode.Primary }));
  const res = await commit(lm, 1, ids);
  expect(res.failed).toEqual([]);
  const m = w.memory();
  const bound = limit + clients * 2 * frame;
  console.log(
    `memory flood: ${((clients * pushesPerClient * frame) / MiB).toFixed(0)} MiB in ${seconds.toFixed(2)} s; ` +
      `peak ${m.peak} B = limit + ${m.peak - limit} B (bound limit + ${bound - limit} B), pauses ${m.pauses}`,
  );
  expect(m.peak).toBeGreaterThan(limit); // the limit was reached, so the bound is exercised
  expect(m.peak).toBeLessThanOrEqual(bound);
  expect(m.pauses).toBeGreaterThan(0);
  expect(m.held).toBe(0);
  expect(m.paused).toBe(false);

  const shuffleDir = join(w.options.dataDirs[0]!, 'app', '1');
  for (let c = 0; c < clients; c++) {
    for (let k = 0; k < partitionsPerClient; k++) {
      const p = c * partitionsPerClient + k;
      const pushes = Math.ceil((pushesPerClient - k) / partitionsPerClient);
      expect(committedOf(res, p).bytes).toBe(pushes * frame);
      expect((await stat(join(shuffleDir, `${p}-0-primary`))).size).toBe(pushes * frame);
    }
  }
});
