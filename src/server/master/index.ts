export { startMaster, type MasterHandle, type MasterDeps } from './master.js';
export { MASTER_DEFAULTS, resolveMasterOptions, type MasterOptions, type ResolvedMasterOptions, type SlotStrategyName } from './options.js';
export { statusView, type ApplicationStatus, type MasterStatus, type ShuffleStatus, type Viewer, type WorkerStatus } from './status.js';
