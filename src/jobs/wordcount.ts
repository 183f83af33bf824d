import { countWords, decodeCounts, encodeCountsByPartition, generateText, mergeCounts, totalCount } from './data/index.js';
import type { JobDefinition, TaskContext } from './job.js';

export interface WordCountParams {
  /** Bytes of text each map generates. */
  bytesPerMap: number;
  seed: number;
}

interface MapResult {
  words: number;
  bytes: number;
}

interface ReduceResult {
  words: number;
  distinct: number;
  top: [string, number][];
}

async function map(ctx: TaskContext, mapIndex: number, params: WordCountParams): Promise<MapResult> {
  const text = generateText(params.seed + mapIndex, params.bytesPerMap);
  const counts = countWords(text);
  const perPartition = encodeCountsByPartition(counts, ctx.numReduces);
  // Small records, many partitions: merged pushes.
  for (let p = 0; p < perPartition.length; p++) {
    const buf = perPartition[p]!;
    if (buf.length > 0) await ctx.client.mergeData(ctx.shuffleId, mapIndex, ctx.attemptId, p, buf, 0, buf.length, ctx.numMaps, ctx.numReduces);
  }
  await ctx.client.mapperEnd(ctx.shuffleId, mapIndex, ctx.attemptId, ctx.numMaps);
  ctx.progress(text.length);
  return { words: totalCount(counts), bytes: text.length };
}

async function reduce(ctx: TaskContext, partition: number): Promise<ReduceResult> {
  const counts = new Map<string, number>();
  for await (const batch of ctx.client.readPartition(ctx.shuffleId, partition)) {
    mergeCounts(counts, decodeCounts(batch));
    ctx.progress(batch.length);
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  return { words: totalCount(counts), distinct: counts.size, top };
}

function summarize(_params: WordCountParams, maps: MapResult[], reduces: ReduceResult[]) {
  const pushed = maps.reduce((s, m) => s + m.words, 0);
  const counted = reduces.reduce((s, r) => s + r.words, 0);
  const problems = pushed === counted ? [] : [`counted ${counted} words, the maps saw ${pushed}`];
  return { bytes: maps.reduce((s, m) => s + m.bytes, 0), records: counted, validated: problems.length === 0, problems };
}

export const wordCountJob: JobDefinition<WordCountParams, MapResult, ReduceResult> = { name: 'wordcount', map, reduce, summarize };
