/** The LifecycleManager: a job driver's coordinator of its shuffles. */
export { LifecycleManager, type MapperEndRequest, type MapperEndResponse, type ReducerFileGroup } from './lifecycle-manager.js';
export { LIFECYCLE_DEFAULTS, resolveLifecycleOptions, type LifecycleManagerOptions, type ResolvedLifecycleManagerOptions } from './options.js';
export type { ReviveRequest, ReviveResult } from './reviver.js';
export type { FetchFailureAnswer, FetchFailureReport } from './fetch-failure-tracker.js';
export type { PartitionResult, StageResult } from './shuffle-state.js';
