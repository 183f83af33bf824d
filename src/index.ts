/**
 * Braid's public API. Everything not exported here is internal.
 */
// Client side: in a job's driver and its task processes.
export { ShuffleClient, type MapperEndResult } from './client/shuffle-client.js';
export { CLIENT_DEFAULTS, type ShuffleClientOptions, type CompressionName } from './client/options.js';
export {
  LifecycleManager,
  LIFECYCLE_DEFAULTS,
  type LifecycleManagerOptions,
  type MapperEndRequest,
  type MapperEndResponse,
  type ReducerFileGroup,
  type FetchFailureReport,
  type FetchFailureAnswer,
} from './client/lifecycle/index.js';

// Servers.
export { startMaster, MASTER_DEFAULTS, type MasterHandle, type MasterOptions, type MasterStatus } from './server/master/index.js';
export { startWorker, WORKER_DEFAULTS, type WorkerHandle, type WorkerOptions, type WorkerStatus } from './server/worker/index.js';
export { startStandalone, type StandaloneHandle, type StandaloneOptions } from './server/standalone.js';

// Jobs.
export { runJob, type RunJobOptions, type JobResult } from './jobs/runner/driver.js';

// Errors, statuses and shared types.
export { BraidError, ErrorCodes, isBraidError, type ErrorCode } from './protocol/errors.js';
export { PushStatus, pushStatusName, type PushStatusCode } from './protocol/status.js';
export { ALL_MAPS } from './protocol/types.js';
export { parseAddress, type Address, type PartitionLocation } from './protocol/control/common.js';

// Engine adapters.
export {
  SparkShuffleManager,
  SparkShuffleExecutor,
  FetchFailedError,
  type SparkEngine,
  type ShuffleHandle,
  type ShuffleWriter,
} from './engines/spark-shuffle-manager.js';
export {
  BraidShuffleMaster,
  type BraidShuffleMasterOptions,
  type BraidShuffleDescriptor,
  type JobShuffleContext,
  type ShuffleMasterContext,
  type PartitionDescriptor,
  type ProducerDescriptor,
  type ResultPartitionId,
} from './engines/flink-shuffle-master.js';

// External shuffle service mode: executors' own map outputs served by workers.
export { registerExecutor, fetchBlocks, writeMapOutput, type FetchBlocksOptions, type ExecutorShuffleInfo } from './ess/index.js';

// Security: the key an application proves when the cluster has a secret, and TLS material.
export { applicationKey } from './security/keys.js';
export { TlsMaterial, type TlsFiles, type TlsInput } from './security/tls.js';
