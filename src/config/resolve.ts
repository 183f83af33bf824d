/**
 * The one place configuration is resolved. Sources, later winning:
 *
 *   schema defaults < caller defaults < config file < environment < flags
 *
 * The config file is named by `--config <path>` or else BRAID_CONFIG. Every
 * value given by any source is validated, even one a later source overrides:
 * a bad line in a file is a mistake worth hearing about.
 */
import { BraidError, ErrorCodes } from '../protocol/index.js';
import { SCHEMAS, type ConfigRole, type RoleConfigs } from './options.js';
import { coerce, envName, flagName, formatValue, type ConfigSchema, type CrossCheck, type OptionSpec } from './schema.js';
import {
  CONFIG_ENV,
  describeOrigin,
  readArgv,
  readConfigFile,
  readEnv,
  type Origin,
  type RawEntry,
} from './sources.js';

export interface ResolveInput<T> {
  /** Flags only: no node binary, script or role (e.g. `process.argv.slice(3)`). */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Replaces schema defaults, e.g. for tests or an embedding program. Still validated. */
  readonly defaults?: Partial<T>;
}

export interface Resolved<T> {
  readonly config: T;
  /** Where each option's value came from, e.g. `env BRAID_MEMORY_LIMIT`. */
  readonly sources: { readonly [K in keyof T]: string };
  readonly configFile: string | undefined;
}

function fail(option: string, origin: Origin, problem: string): never {
  throw new BraidError(ErrorCodes.CONFIG, `option "${option}" (from ${describeOrigin(origin)}): ${problem}`, {
    retriable: false,
  });
}

function callerEntries(options: Readonly<Record<string, OptionSpec>>, defaults: object | undefined): RawEntry[] {
  if (defaults === undefined) return [];
  const entries: RawEntry[] = [];
  for (const [option, raw] of Object.entries(defaults)) {
    if (raw === undefined) continue;
    if (!Object.hasOwn(options, option)) {
      throw new BraidError(ErrorCodes.CONFIG, `caller defaults: unknown option "${option}"`, { retriable: false });
    }
    entries.push({ option, raw, origin: { kind: 'caller' } });
  }
  return entries;
}

/** Resolves one schema; the typed entry points below pick the schema by role. */
export function resolveSchema<T>(schema: ConfigSchema<T>, input: ResolveInput<T>): Resolved<T> {
  const options: Readonly<Record<string, OptionSpec>> = schema.options;
  // Parse argv first: an unknown flag is reported before any file is read.
  const argv = readArgv(options, input.argv);
  const envConfig = input.env[CONFIG_ENV];
  const configFile = argv.configPath ?? (envConfig === undefined || envConfig === '' ? undefined : envConfig);

  const entries: RawEntry[] = [
    ...callerEntries(options, input.defaults),
    ...(configFile === undefined ? [] : readConfigFile(options, configFile)),
    ...readEnv(options, input.env),
    ...argv.entries,
  ];

  const values = new Map<string, unknown>();
  const origins = new Map<string, Origin>();
  for (const [option, spec] of Object.entries(options)) {
    if (spec.default !== undefined) {
      values.set(option, spec.default);
      origins.set(option, { kind: 'default' });
    }
  }
  for (const { option, raw, origin } of entries) {
    const spec = options[option];
    if (spec === undefined) continue; // sources only yield known options
    const result = coerce(spec, raw);
    if (!result.ok) fail(option, origin, result.problem);
    if (spec.kind === 'list' && spec.default === undefined && Array.isArray(result.value) && result.value.length === 0) {
      fail(option, origin, 'must list at least one entry');
    }
    values.set(option, result.value);
    origins.set(option, origin);
  }

  for (const option of Object.keys(options)) {
    if (!values.has(option)) {
      throw new BraidError(
        ErrorCodes.CONFIG,
        `option "${option}" is required for the ${schema.role} role; set ${`--${flagName(option)}`}, ` +
          `${envName(option)} or "${option}" in a config file`,
        { retriable: false },
      );
    }
  }

  const sources: Record<string, string> = {};
  for (const [option, origin] of origins) sources[option] = describeOrigin(origin);
  // The value map holds exactly one coerced value per schema key, which is what T is.
  const config = Object.freeze(Object.fromEntries(Object.keys(options).map((o) => [o, values.get(o)]))) as T;

  const originOf = (option: string): Origin => origins.get(option) ?? { kind: 'default' };
  const shown = (option: string): string => {
    const spec = options[option];
    return spec === undefined ? String(values.get(option)) : formatValue(spec, values.get(option));
  };
  const check: CrossCheck<T> = {
    fail: (option, problem) => fail(option, originOf(option), `${problem}, got ${shown(option)}`),
    show: (option) => `${option} (${shown(option)}, from ${describeOrigin(originOf(option))})`,
  };
  schema.validate?.(config, check);

  return { config, sources: Object.freeze(sources) as Resolved<T>['sources'], configFile };
}

/**
 * Resolves the configuration of a server role from defaults, a config file,
 * the environment and flags. Throws BraidError(BRAID_ERR_CONFIG) naming the
 * option and source of the first bad value. `--help` is not an option: check
 * `helpRequested(argv)` first.
 */
export function resolveConfig<R extends ConfigRole>(role: R, input: ResolveInput<RoleConfigs[R]>): RoleConfigs[R] {
  return resolveConfigWithSources(role, input).config;
}

/** Like resolveConfig, plus where each value came from (for a startup log line). */
export function resolveConfigWithSources<R extends ConfigRole>(
  role: R,
  input: ResolveInput<RoleConfigs[R]>,
): Resolved<RoleConfigs[R]> {
  const schema: ConfigSchema<RoleConfigs[R]> = SCHEMAS[role];
  return resolveSchema(schema, input);
}

export function helpRequested(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** A copy safe to log or show on /status: secret options are masked. */
export function redactConfig<R extends ConfigRole>(role: R, config: RoleConfigs[R]): Record<string, unknown> {
  const options: Readonly<Record<string, OptionSpec>> = SCHEMAS[role].options;
  const out: Record<string, unknown> = {};
  for (const [option, value] of Object.entries(config)) {
    const spec = options[option];
    out[option] = spec?.kind === 'string' && spec.secret === true && value !== '' ? '<hidden>' : value;
  }
  return out;
}
