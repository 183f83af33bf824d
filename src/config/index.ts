/** Configuration of the server roles: schema, resolution and help text. */
export {
  type CommonConfig,
  type MasterConfig,
  type MasterCoreConfig,
  type HaConfig,
  type WorkerConfig,
  type StandaloneConfig,
  type SlotStrategy,
  type RoleConfigs,
  type ConfigRole,
} from './options.js';
export {
  resolveConfig,
  resolveConfigWithSources,
  helpRequested,
  redactConfig,
  type ResolveInput,
  type Resolved,
} from './resolve.js';
export { describeOptions } from './help.js';
export { parseSize, parseDuration, formatSize, formatDuration } from './units.js';
export type { Address } from './schema.js';
