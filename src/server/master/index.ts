export { startMaster, type MasterHandle, type MasterDeps } from './master.js';
export { MASTER_DEFAULTS, resolveMasterOptions, type MasterOptions, type ResolvedMasterOptions, type SlotStrategyName } from './options.js';
export type { ApplicationStatus, MasterStatus, ShuffleStatus, WorkerStatus } from './status.js';
