import { ApplicationHeartbeat } from './application-heartbeat.js';
import { ApplicationRemoved } from './application-removed.js';
import { CommitFiles } from './commit-files.js';
import { DecommissionWorker } from './decommission-worker.js';
import type { RpcMethod } from './define.js';
import { DestroySlots } from './destroy-slots.js';
import { ExecutorRemoved } from './executor-removed.js';
import { GetEssMetrics } from './get-ess-metrics.js';
import { GetReducerFileGroup } from './get-reducer-file-group.js';
import { GetStatus } from './get-status.js';
import { MapperEnd } from './mapper-end.js';
import { MasterInfo } from './master-info.js';
import { OpenBlocks } from './open-blocks.js';
import { RegisterExecutor } from './register-executor.js';
import { RegisterShuffle } from './register-shuffle.js';
import { RegisterWorker } from './register-worker.js';
import { ReportShuffleFetchFailure } from './report-fetch-failure.js';
import { RequestSlots } from './request-slots.js';
import { ReserveSlots } from './reserve-slots.js';
import { Revive } from './revive.js';
import { UnregisterShuffle } from './unregister-shuffle.js';
import { WorkerHeartbeat } from './worker-heartbeat.js';

/** The one table of control methods, by wire id. */
export const METHODS: readonly RpcMethod<never, never>[] = [
  RegisterWorker,
  WorkerHeartbeat,
  RequestSlots,
  ReserveSlots,
  CommitFiles,
  DestroySlots,
  RegisterShuffle,
  Revive,
  MapperEnd,
  GetReducerFileGroup,
  UnregisterShuffle,
  ApplicationHeartbeat,
  ReportShuffleFetchFailure,
  GetStatus,
  DecommissionWorker,
  MasterInfo,
  // external shuffle service mode
  RegisterExecutor,
  OpenBlocks,
  ApplicationRemoved,
  ExecutorRemoved,
  GetEssMetrics,
] as unknown as RpcMethod<never, never>[];

const BY_ID = new Map<number, RpcMethod<never, never>>(METHODS.map((m) => [m.id, m]));
if (BY_ID.size !== METHODS.length) throw new Error('duplicate control method id');

export function methodById(id: number): RpcMethod<never, never> | undefined {
  return BY_ID.get(id);
}
