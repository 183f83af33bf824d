/** The Braid wire protocol: pure codecs, no I/O. */
export * from './errors.js';
export * from './status.js';
export * from './types.js';
export * from './prelude.js';
export * from './reader.js';
export * from './writer.js';
export * from './codec.js';
export * from './decoder.js';
export * from './frame.js';
export * from './batch-header.js';
export * from './batch-payload.js';
export type { MessageDef, MessageOf } from './messages/define.js';
export { validateMergedOffsets } from './messages/push-merged-data.js';
export * from './control/common.js';
export * from './control/define.js';
export * from './control/methods.js';
export { RegisterWorker } from './control/register-worker.js';
export { WorkerHeartbeat } from './control/worker-heartbeat.js';
export { RequestSlots } from './control/request-slots.js';
export { ReserveSlots, type ReservedFile } from './control/reserve-slots.js';
export { CommitFiles } from './control/commit-files.js';
export { DestroySlots } from './control/destroy-slots.js';
export { RegisterShuffle } from './control/register-shuffle.js';
export { Revive } from './control/revive.js';
export { MapperEnd, type EpochRef, type PartitionSum } from './control/mapper-end.js';
export {
  GetReducerFileGroup,
  type ReducerFile,
  type MapSum,
  type PartitionGroup,
} from './control/get-reducer-file-group.js';
export { UnregisterShuffle } from './control/unregister-shuffle.js';
export { ApplicationHeartbeat } from './control/application-heartbeat.js';
export { ReportShuffleFetchFailure, FetchFailureStatus } from './control/report-fetch-failure.js';
export { GetStatus } from './control/get-status.js';
export { DecommissionWorker } from './control/decommission-worker.js';
export { MasterInfo, MasterRole, masterRoleName } from './control/master-info.js';
export { RegisterExecutor } from './control/register-executor.js';
export { OpenBlocks } from './control/open-blocks.js';
export { ApplicationRemoved } from './control/application-removed.js';
export { ExecutorRemoved } from './control/executor-removed.js';
export { GetEssMetrics } from './control/get-ess-metrics.js';
