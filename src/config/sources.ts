/**
 * Reading raw option values out of each source. Nothing here is typed yet:
 * every source yields `RawEntry`s (option, raw value, where it came from), and
 * the resolver coerces them all with the same rules.
 *
 * Flags:  --name value | --name=value | --flag | --no-flag | --config <path>
 * Env:    BRAID_<NAME_IN_UPPER_SNAKE>; an empty variable counts as unset.
 * File:   one JSON object whose keys are option names in camelCase.
 */
import { readFileSync } from 'node:fs';
import { BraidError, ErrorCodes } from '../protocol/index.js';
import { envName, flagName, type OptionSpec } from './schema.js';

export type Origin =
  | { readonly kind: 'default' }
  | { readonly kind: 'caller' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string };

export interface RawEntry {
  readonly option: string;
  readonly raw: unknown;
  readonly origin: Origin;
}

export function describeOrigin(origin: Origin): string {
  switch (origin.kind) {
    case 'default':
      return 'default';
    case 'caller':
      return 'caller defaults';
    case 'file':
      return `config file ${origin.path}`;
    case 'env':
      return `env ${origin.name}`;
    case 'flag':
      return `flag ${origin.name}`;
  }
}

export const CONFIG_ENV = 'BRAID_CONFIG';
export const CONFIG_FLAG = '--config';

type Options = Readonly<Record<string, OptionSpec>>;

function configError(message: string, cause?: unknown): BraidError {
  return new BraidError(ErrorCodes.CONFIG, message, { retriable: false, cause });
}

/** Plain edit distance, to suggest the option someone meant. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function suggestion(input: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3; // farther than two edits is a different word
  for (const c of candidates) {
    const d = distance(input.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : `; did you mean ${best}?`;
}

export interface ParsedArgv {
  readonly configPath: string | undefined;
  readonly entries: readonly RawEntry[];
}

/** Splits argv (flags only: no node, script or role) into option entries and the config path. */
export function readArgv(options: Options, argv: readonly string[]): ParsedArgv {
  const byFlag = new Map<string, string>(Object.keys(options).map((o) => [flagName(o), o]));
  const entries: RawEntry[] = [];
  let configPath: string | undefined;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') throw configError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const flag = `--${name}`;
    // A value may follow as the next argument unless it looks like another flag.
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw configError(`flag ${flag} needs a value`);
      i++;
      return next;
    };

    if (flag === CONFIG_FLAG) {
      configPath = takeValue();
      continue;
    }
    const option = byFlag.get(name);
    if (option !== undefined) {
      const spec = options[option];
      if (spec?.kind === 'string' && spec.secret === true) {
        const file = Object.hasOwn(options, `${option}File`) ? `--${flagName(`${option}File`)} <file>, ` : '';
        throw configError(`flag ${flag}: a secret on the command line can be read by every local user; use ${file}${envName(option)} or a config file`);
      }
      const raw = spec?.kind === 'bool' && inline === undefined ? true : takeValue();
      entries.push({ option, raw, origin: { kind: 'flag', name: flag } });
      continue;
    }
    const negated = name.startsWith('no-') ? byFlag.get(name.slice(3)) : undefined;
    if (negated !== undefined) {
      if (options[negated]?.kind !== 'bool') {
        throw configError(`flag ${flag}: option "${negated}" is not a boolean, so it has no --no- form`);
      }
      if (inline !== undefined) throw configError(`flag ${flag} takes no value`);
      entries.push({ option: negated, raw: false, origin: { kind: 'flag', name: flag } });
      continue;
    }
    const known = [CONFIG_FLAG, ...[...byFlag.keys()].map((f) => `--${f}`)];
    throw configError(`unknown flag ${flag}${suggestion(flag, known)}`);
  }
  return { configPath, entries };
}

/** Env entries for the schema's options; BRAID_* variables of other roles are ignored. */
export function readEnv(options: Options, env: Readonly<Record<string, string | undefined>>): RawEntry[] {
  const entries: RawEntry[] = [];
  for (const option of Object.keys(options)) {
    const name = envName(option);
    const raw = env[name];
    if (raw !== undefined && raw !== '') entries.push({ option, raw, origin: { kind: 'env', name } });
  }
  return entries;
}

/** Entries of a JSON config file; unknown keys are errors because a typo would otherwise be silently ignored. */
export function readConfigFile(options: Options, path: string): RawEntry[] {
  const origin: Origin = { kind: 'file', path };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw configError(`config file ${path}: cannot read it (${reason})`, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw configError(`config file ${path}: not valid JSON (${reason})`, err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw configError(`config file ${path}: expected a JSON object of options`);
  }
  const known = Object.keys(options);
  const entries: RawEntry[] = [];
  for (const [key, raw] of Object.entries(parsed)) {
    if (!Object.hasOwn(options, key)) {
      throw configError(`config file ${path}: unknown option "${key}"${suggestion(key, known)}`);
    }
    entries.push({ option: key, raw, origin });
  }
  return entries;
}
