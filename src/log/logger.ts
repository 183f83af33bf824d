/**
 * Operational logs: one pino logger per process, with a child per role or
 * component carrying stable fields (role, worker, app). Lines are JSON
 * objects or plain text (the `logFormat` option); secrets are redacted by
 * path, so a token given as a field can never reach a line.
 *
 * Hot paths must not build log arguments unless the level is on: guard with
 * `log.isLevelEnabled('debug')` before formatting anything costly.
 */
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { formatTextLine } from './text-format.js';

export type { Logger };
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stderr, written synchronously so no line is lost at exit. */
  destination?: DestinationStream;
}

/** Field names whose values are never logged, at the top level and one level down. */
const SECRET_FIELDS = ['token', 'secret', 'authToken', 'authSecret', 'password', 'key', 'privateKey', 'passphrase'];
export const REDACT_PATHS: readonly string[] = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export function createLogger(options: LogOptions = {}): Logger {
  const format = options.format ?? 'text';
  const base: LoggerOptions = {
    level: options.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: [...REDACT_PATHS], censor: '<hidden>' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  const sink = options.destination ?? pino.destination({ fd: 2, sync: true });
  if (format === 'json') return pino(base, sink);
  return pino(base, { write: (line: string) => void sink.write(formatTextLine(line)) });
}

function fromEnv(): LogOptions {
  const level = process.env.BRAID_LOG_LEVEL;
  const format = process.env.BRAID_LOG_FORMAT;
  return {
    // A library inside someone else's program speaks only when something is wrong.
    level: LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'warn',
    format: LOG_FORMATS.includes(format as LogFormat) ? (format as LogFormat) : 'text',
  };
}

let root: Logger | undefined;

/** Sets the process's logger; entry points call it once, before starting any role. */
export function configureLogging(options: LogOptions): Logger {
  root = createLogger(options);
  return root;
}

/** The process's logger (from BRAID_LOG_LEVEL / BRAID_LOG_FORMAT until configured). */
export function rootLogger(): Logger {
  root ??= createLogger(fromEnv());
  return root;
}

/** A child of the process's logger for one component, e.g. `componentLogger('worker', { worker: '10.0.0.2:9099' })`. */
export function componentLogger(role: string, bindings: Record<string, string | number> = {}): Logger {
  return rootLogger().child({ role, ...bindings });
}

/**
 * For modules that log without an owner to hand them a logger (the
 * transport): the component's child of whatever the process's logger is at
 * the time of the call, made once per configured logger.
 */
export function moduleLogger(role: string): () => Logger {
  let parent: Logger | undefined;
  let child: Logger | undefined;
  return () => {
    const r = rootLogger();
    if (r !== parent || child === undefined) {
      parent = r;
      child = r.child({ role });
    }
    return child;
  };
}
