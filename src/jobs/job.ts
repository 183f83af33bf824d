import type { ShuffleClient } from '../client/shuffle-client.js';

/** What a task sees: its shuffle, its place in the job, and the process's ShuffleClient. */
export interface TaskContext {
  client: ShuffleClient;
  shuffleId: number;
  numMaps: number;
  numReduces: number;
  attemptId: number;
  /** Reports progress in bytes (shown by the driver's progress bars). */
  progress(bytes: number): void;
}

export interface JobSummary {
  /** Bytes of input records moved through the shuffle. */
  bytes: number;
  records: number;
  validated: boolean;
  /** Why validation failed, when it did. */
  problems: string[];
}

/**
 * A job runs its map and reduce functions in task processes and its summary
 * in the driver. Parameters and results cross process boundaries as JSON.
 */
export interface JobDefinition<P, M, R> {
  readonly name: string;
  map(ctx: TaskContext, mapIndex: number, params: P): Promise<M>;
  reduce(ctx: TaskContext, partitionId: number, params: P): Promise<R>;
  summarize(params: P, maps: M[], reduces: R[]): JobSummary;
}

export type AnyJob = JobDefinition<never, never, never>;
