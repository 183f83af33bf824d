import type { teraSortJob } from '../../src/jobs/terasort.js';

/** What the Redis TeraSort's tasks need to know; the same data as Braid's TeraSortParams with generated input. */
export interface RedisTeraSortParams {
  totalRecords: number;
  seed: number;
  /** Bytes a mapper gathers per partition before one RPUSH (Braid's TeraSort pushes 256 KiB). */
  pushBufferSize: number;
  /** RPUSH commands a mapper keeps unanswered on its connection (pipelining depth). */
  pushesInFlight: number;
  /** List elements per LRANGE when a reducer reads its list. */
  rangeSlice: number;
}

/** Map and reduce results in exactly the shapes teraSortJob.summarize takes, so both jobs validate by one rule. */
export type MapResult = Parameters<typeof teraSortJob.summarize>[1][number];
export type ReduceResult = Parameters<typeof teraSortJob.summarize>[2][number];

export interface TaskMessage {
  kind: 'task';
  taskId: number;
  phase: 'map' | 'reduce';
  index: number;
  numMaps: number;
  numReduces: number;
  params: RedisTeraSortParams;
}

/** Driver → task process. */
export type DriverMessage = { kind: 'init'; host: string; port: number } | TaskMessage | { kind: 'exit' };

/** Task process → driver. */
export type TaskReply =
  | { kind: 'ready' }
  | { kind: 'result'; taskId: number; ok: true; result: MapResult | ReduceResult }
  | { kind: 'result'; taskId: number; ok: false; error: string };

/** The list a partition's records go to. */
export function partitionKey(partition: number): string {
  return `ts:${partition}`;
}
