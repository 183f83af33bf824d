export {
  createLogger,
  configureLogging,
  rootLogger,
  componentLogger,
  moduleLogger,
  LOG_LEVELS,
  LOG_FORMATS,
  REDACT_PATHS,
  type Logger,
  type LogLevel,
  type LogFormat,
  type LogOptions,
} from './logger.js';
export { Episode } from './episode.js';
