/**
 * A task process of the Redis TeraSort: one ioredis connection, and the map
 * and reduce tasks the driver sends over IPC, one at a time.
 *
 * The records move the way a Node developer would move them through Redis:
 * - map: generate the slice of records Braid's TeraSort map generates, range
 *   partition them with the same partitioner, gather each partition's
 *   records in a buffer of pushBufferSize bytes, and RPUSH each full buffer
 *   (a new Buffer per push: ioredis may still hold the last one) to the list
 *   `ts:<partition>`, keeping up to pushesInFlight commands unanswered on the
 *   connection (pipelining), then wait for every reply;
 * - reduce: LLEN the list, LRANGE it in slices of rangeSlice elements (all
 *   slices requested at once, pipelined), concatenate, sort with the same
 *   sortRecords, check order and checksum as Braid's reducer does, DEL the list.
 */
import { KeyRangePartitioner, RECORD_SIZE, RecordChecksum, generateRecords, recordSlice } from '../../src/jobs/data/index.js';
import { sortPartition } from '../../src/jobs/terasort.js';
import { asBraidError } from '../../src/protocol/index.js';
import { connectRedis, type RedisClient } from './client.js';
import { partitionKey, type DriverMessage, type MapResult, type ReduceResult, type RedisTeraSortParams, type TaskMessage, type TaskReply } from './messages.js';

/** Records generated per block, as in Braid's TeraSort map. */
const BLOCK_RECORDS = 10_000;

let redis: RedisClient | undefined;

function send(m: TaskReply): void {
  process.send?.(m);
}

/** Bounds the commands awaiting their reply; the first failure fails the task. */
class Window {
  private pending = 0;
  private waiter: (() => void) | undefined;
  private failure: unknown;
  private idle: (() => void) | undefined;

  constructor(private readonly limit: number) {}

  async add(command: Promise<unknown>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.pending++;
    command.then(
      () => this.settle(),
      (err: unknown) => {
        this.failure ??= err;
        this.settle();
      },
    );
    if (this.pending >= this.limit) await new Promise<void>((r) => (this.waiter = r));
  }

  async drain(): Promise<void> {
    if (this.pending > 0) await new Promise<void>((r) => (this.idle = r));
    if (this.failure !== undefined) throw this.failure;
  }

  private settle(): void {
    this.pending--;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    if (this.pending === 0) this.idle?.();
  }
}

async function map(r: RedisClient, mapIndex: number, numMaps: number, numReduces: number, params: RedisTeraSortParams): Promise<MapResult> {
  const partitioner = KeyRangePartitioner.uniform(numReduces);
  const checksum = new RecordChecksum();
  const capacity = Math.max(RECORD_SIZE, Math.floor(params.pushBufferSize / RECORD_SIZE) * RECORD_SIZE);
  const buffers = Array.from({ length: numReduces }, () => Buffer.allocUnsafe(capacity));
  const fill = new Array<number>(numReduces).fill(0);
  const window = new Window(params.pushesInFlight);
  const { startRecord, count } = recordSlice(params.totalRecords, numMaps, mapIndex);
  const block = Buffer.allocUnsafe(BLOCK_RECORDS * RECORD_SIZE);
  for (let done = 0; done < count; done += BLOCK_RECORDS) {
    const n = Math.min(BLOCK_RECORDS, count - done);
    const records = generateRecords(startRecord + done, n, params.seed, block.subarray(0, n * RECORD_SIZE));
    checksum.add(records);
    for (let o = 0; o < records.length; o += RECORD_SIZE) {
      const p = partitioner.partition(records, o);
      records.copy(buffers[p]!, fill[p]!, o, o + RECORD_SIZE);
      fill[p]! += RECORD_SIZE;
      if (fill[p] === capacity) {
        const full = buffers[p]!;
        buffers[p] = Buffer.allocUnsafe(capacity);
        fill[p] = 0;
        await window.add(r.rpush(partitionKey(p), full));
      }
    }
  }
  for (let p = 0; p < numReduces; p++) if (fill[p]! > 0) await window.add(r.rpush(partitionKey(p), buffers[p]!.subarray(0, fill[p])));
  await window.drain();
  return { records: count, checksum: checksum.toJSON() };
}

async function reduce(r: RedisClient, partition: number, params: RedisTeraSortParams): Promise<ReduceResult> {
  const key = partitionKey(partition);
  const length = await r.llen(key);
  const slices: Promise<Buffer[]>[] = [];
  for (let i = 0; i < length; i += params.rangeSlice) slices.push(r.lrangeBuffer(key, i, Math.min(length, i + params.rangeSlice) - 1));
  const parts = (await Promise.all(slices)).flat();
  const { result } = sortPartition(partition, parts);
  await r.del(key);
  return result;
}

async function run(m: TaskMessage): Promise<void> {
  try {
    if (redis === undefined) throw new Error('task before init');
    const result = m.phase === 'map' ? await map(redis, m.index, m.numMaps, m.numReduces, m.params) : await reduce(redis, m.index, m.params);
    send({ kind: 'result', taskId: m.taskId, ok: true, result });
  } catch (err) {
    send({ kind: 'result', taskId: m.taskId, ok: false, error: asBraidError(err).message });
  }
}

process.on('message', (m: DriverMessage) => {
  if (m.kind === 'init') {
    connectRedis(m.host, m.port).then(
      (c) => {
        redis = c;
        send({ kind: 'ready' });
      },
      (err: unknown) => {
        process.stderr.write(`redis task process: cannot connect: ${asBraidError(err).message}\n`);
        process.exit(1);
      },
    );
  } else if (m.kind === 'task') void run(m);
  else void (redis?.quit() ?? Promise.resolve()).finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
