import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  KeyRangePartitioner,
  OrderValidator,
  RECORD_SIZE,
  RecordChecksum,
  generateRecords,
  recordSlice,
  sortRecords,
  validatePartitionSequence,
  type RecordChecksumJSON,
} from './data/index.js';
import type { JobDefinition, TaskContext } from './job.js';

export interface TeraSortParams {
  /** Records to generate when there is no input (100 bytes each). */
  totalRecords: number;
  seed: number;
  /** gensort-format input files; when given, they are the input instead of generated records. */
  inputFiles?: { path: string; records: number }[];
  /** Where reducers write part-NNNNN files; none: the sorted output is validated and dropped. */
  outputDir?: string;
  /** Bytes buffered per partition before a push (default 256 KiB). */
  pushBufferSize?: number;
}

interface MapResult {
  records: number;
  checksum: RecordChecksumJSON;
}

export interface ReduceResult {
  partition: number;
  records: number;
  ordered: boolean;
  firstKey: string | null;
  lastKey: string | null;
  checksum: RecordChecksumJSON;
}

const BLOCK_RECORDS = 10_000;

/** The map input: a slice of generated records, or of the input files, in blocks. */
async function* mapInput(params: TeraSortParams, mapIndex: number, numMaps: number): AsyncGenerator<Buffer> {
  if (params.inputFiles === undefined || params.inputFiles.length === 0) {
    const { startRecord, count } = recordSlice(params.totalRecords, numMaps, mapIndex);
    const block = Buffer.allocUnsafe(BLOCK_RECORDS * RECORD_SIZE);
    for (let done = 0; done < count; done += BLOCK_RECORDS) {
      const n = Math.min(BLOCK_RECORDS, count - done);
      yield generateRecords(startRecord + done, n, params.seed, block.subarray(0, n * RECORD_SIZE));
    }
    return;
  }
  // Input files: this map takes its slice of the records of all files, in order.
  const total = params.inputFiles.reduce((s, f) => s + f.records, 0);
  const { startRecord, count } = recordSlice(total, numMaps, mapIndex);
  let fileStart = 0;
  for (const f of params.inputFiles) {
    const from = Math.max(startRecord, fileStart);
    const to = Math.min(startRecord + count, fileStart + f.records);
    if (from < to) yield* readRecordRange(f.path, from - fileStart, to - from);
    fileStart += f.records;
  }
}

/** Reads records [startRecord, startRecord + count) of a record file in blocks. */
async function* readRecordRange(path: string, startRecord: number, count: number): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const block = Buffer.allocUnsafe(BLOCK_RECORDS * RECORD_SIZE);
    for (let done = 0; done < count; ) {
      const n = Math.min(BLOCK_RECORDS, count - done);
      const want = n * RECORD_SIZE;
      const { bytesRead } = await fh.read(block, 0, want, (startRecord + done) * RECORD_SIZE);
      if (bytesRead !== want) throw new Error(`${path}: short read at record ${startRecord + done}`);
      yield block.subarray(0, want);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

async function map(ctx: TaskContext, mapIndex: number, params: TeraSortParams): Promise<MapResult> {
  const R = ctx.numReduces;
  const partitioner = KeyRangePartitioner.uniform(R);
  const checksum = new RecordChecksum();
  const capacity = Math.max(RECORD_SIZE, Math.floor((params.pushBufferSize ?? 256 * 1024) / RECORD_SIZE) * RECORD_SIZE);
  const buffers = Array.from({ length: R }, () => Buffer.allocUnsafe(capacity));
  const fill = new Array<number>(R).fill(0);
  const push = (p: number) =>
    ctx.client.pushData(ctx.shuffleId, mapIndex, ctx.attemptId, p, buffers[p]!, 0, fill[p]!, ctx.numMaps, R).then(() => {
      fill[p] = 0;
    });
  let records = 0;
  for await (const block of mapInput(params, mapIndex, ctx.numMaps)) {
    checksum.add(block);
    for (let o = 0; o < block.length; o += RECORD_SIZE) {
      const p = partitioner.partition(block, o);
      block.copy(buffers[p]!, fill[p]!, o, o + RECORD_SIZE);
      fill[p]! += RECORD_SIZE;
      // pushData copies the bytes before it resolves, so the buffer can be refilled at once.
      if (fill[p] === capacity) await push(p);
    }
    records += block.length / RECORD_SIZE;
    ctx.progress(block.length);
  }
  for (let p = 0; p < R; p++) if (fill[p]! > 0) await push(p);
  await ctx.client.mapperEnd(ctx.shuffleId, mapIndex, ctx.attemptId, ctx.numMaps);
  return { records, checksum: checksum.toJSON() };
}

/**
 * The reducer's own work, whatever moved the records: sort the partition's
 * records, and describe the result (order, first and last key, checksum).
 * Shared with the Redis peer of the benchmarks, so both do the same work.
 */
export function sortPartition(partition: number, parts: Buffer[]): { sorted: Buffer; result: ReduceResult } {
  const sorted = sortRecords(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  const validator = new OrderValidator();
  validator.add(sorted);
  const checksum = new RecordChecksum();
  checksum.add(sorted);
  const r = validator.result();
  return {
    sorted,
    result: {
      partition,
      records: r.records,
      ordered: r.ordered,
      firstKey: r.firstKey?.toString('hex') ?? null,
      lastKey: r.lastKey?.toString('hex') ?? null,
      checksum: checksum.toJSON(),
    },
  };
}

async function reduce(ctx: TaskContext, partition: number, params: TeraSortParams): Promise<ReduceResult> {
  const parts: Buffer[] = [];
  for await (const batch of ctx.client.readPartition(ctx.shuffleId, partition)) {
    parts.push(batch);
    ctx.progress(batch.length);
  }
  const { sorted, result } = sortPartition(partition, parts);
  if (params.outputDir !== undefined) {
    await mkdir(params.outputDir, { recursive: true });
    const fh = await open(join(params.outputDir, `part-${String(partition).padStart(5, '0')}`), 'w');
    try {
      await fh.writeFile(sorted);
    } finally {
      await fh.close();
    }
  }
  return result;
}

function summarize(_params: TeraSortParams, maps: MapResult[], reduces: ReduceResult[]) {
  const input = new RecordChecksum();
  for (const m of maps) input.merge(RecordChecksum.fromJSON(m.checksum));
  const output = new RecordChecksum();
  for (const r of reduces) output.merge(RecordChecksum.fromJSON(r.checksum));
  const ordered = [...reduces].sort((a, b) => a.partition - b.partition);
  const sequence = validatePartitionSequence(
    ordered.map((r) => ({
      records: r.records,
      ordered: r.ordered,
      firstKey: r.firstKey === null ? null : Buffer.from(r.firstKey, 'hex'),
      lastKey: r.lastKey === null ? null : Buffer.from(r.lastKey, 'hex'),
    })),
  );
  const problems: string[] = [];
  if (!sequence.ok) problems.push(`global order broken: unordered partitions ${JSON.stringify(sequence.unordered)}, overlaps ${JSON.stringify(sequence.overlaps)}`);
  if (!input.equals(output)) problems.push(`checksum mismatch: input ${JSON.stringify(input.toJSON())}, output ${JSON.stringify(output.toJSON())}`);
  return { bytes: input.records * RECORD_SIZE, records: output.records, validated: problems.length === 0, problems };
}

export const teraSortJob: JobDefinition<TeraSortParams, MapResult, ReduceResult> = { name: 'terasort', map, reduce, summarize };
