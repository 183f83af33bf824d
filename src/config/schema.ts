/**
 * The typed option schema: what each option accepts, and how a raw value
 * from any source (a flag's text, an env var, a JSON value, a caller's
 * default) becomes a typed value. Coercion returns a problem text instead of
 * throwing, because only the resolver knows the option's name and source.
 */
import type { Address } from '../protocol/index.js';
import { formatDuration, formatSize, parseDuration, parseSize } from './units.js';

export type { Address };

export type OptionKind = 'int' | 'number' | 'size' | 'duration' | 'bool' | 'string' | 'list' | 'address' | 'addresses' | 'enum';

interface SpecBase {
  /** One line for `--help`. */
  readonly description: string;
}

/** int, number (a ratio), size (bytes) and duration (milliseconds) all resolve to a number. */
export interface NumericSpec extends SpecBase {
  readonly kind: 'int' | 'number' | 'size' | 'duration';
  readonly default: number;
  readonly min?: number;
  readonly max?: number;
}

export interface BoolSpec extends SpecBase {
  readonly kind: 'bool';
  readonly default: boolean;
}

export interface StringSpec extends SpecBase {
  readonly kind: 'string';
  readonly default: string;
  /** Never echo the value in an error (tokens, passwords). */
  readonly secret?: boolean;
}

export interface EnumSpec<V extends string = string> extends SpecBase {
  readonly kind: 'enum';
  readonly values: readonly V[];
  readonly default: V;
}

/** A list or an address without a default must be given (a list: non-empty). */
export interface ListSpec extends SpecBase {
  readonly kind: 'list';
  readonly default?: readonly string[];
}

export interface AddressSpec extends SpecBase {
  readonly kind: 'address';
  readonly default?: Address;
}

/** One or more `host:port`, comma separated (a JSON array in a file). Without a default it must be given. */
export interface AddressesSpec extends SpecBase {
  readonly kind: 'addresses';
  readonly default?: readonly Address[];
}

export type OptionSpec = NumericSpec | BoolSpec | StringSpec | EnumSpec | ListSpec | AddressSpec | AddressesSpec;

/** The spec an option of TS type T must have; enums are string unions. */
export type SpecFor<T> = [T] extends [number]
  ? NumericSpec
  : [T] extends [boolean]
    ? BoolSpec
    : [T] extends [readonly string[]]
      ? ListSpec
      : [T] extends [readonly Address[]]
        ? AddressesSpec
        : [T] extends [Address]
        ? AddressSpec
        : [T] extends [string]
          ? string extends T
            ? StringSpec
            : EnumSpec<T>
          : never;

/** One spec per key of the resolved config type: a missing or extra option does not compile. */
export type OptionTable<T> = { readonly [K in keyof T]-?: SpecFor<T[K]> };

export interface ConfigSchema<T> {
  readonly role: string;
  readonly options: OptionTable<T>;
  /** Cross-field checks, run on the fully resolved config. */
  readonly validate?: (config: T, check: CrossCheck<T>) => void;
}

export interface CrossCheck<T> {
  /** Throws the config error for `option`, naming its source and value. */
  fail(option: keyof T & string, problem: string): never;
  /** `hardSplitLimit (4g, from default)`: another option, its value and source, for the other side of a comparison. */
  show(option: keyof T & string): string;
}

export type Coerced = { ok: true; value: unknown } | { ok: false; problem: string };

const PORT_MAX = 65535;

/** The one `kind` text shown as a flag placeholder in help. */
export function placeholder(spec: OptionSpec): string {
  switch (spec.kind) {
    case 'int':
      return '<n>';
    case 'number':
      return '<number>';
    case 'size':
      return '<size>';
    case 'duration':
      return '<duration>';
    case 'bool':
      return '';
    case 'string':
      return '<string>';
    case 'list':
      return '<a,b,...>';
    case 'address':
      return '<host:port>';
    case 'addresses':
      return '<host:port,...>';
    case 'enum':
      return `<${spec.values.join('|')}>`;
  }
}

/** A value in the same notation a user would write it in. */
export function formatValue(spec: OptionSpec, value: unknown): string {
  if (spec.kind === 'size' && typeof value === 'number') return formatSize(value);
  if (spec.kind === 'duration' && typeof value === 'number') return formatDuration(value);
  if (spec.kind === 'string' && spec.secret === true && value !== '') return '<hidden>';
  if (Array.isArray(value)) return value.map((v: unknown) => (isAddress(v) ? formatAddress(v) : String(v))).join(',');
  if (isAddress(value)) return formatAddress(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** How a raw input is echoed in an error; long inputs are cut. */
function shown(spec: OptionSpec, raw: unknown): string {
  if (spec.kind === 'string' && spec.secret === true) return '<hidden>';
  let text: string;
  try {
    text = JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isAddress(v: unknown): v is Address {
  return typeof v === 'object' && v !== null && 'host' in v && 'port' in v;
}

const BOOL_TEXT: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['on', true],
  ['false', false],
  ['0', false],
  ['no', false],
  ['off', false],
]);

const INT_RE = /^[+-]?\d+$/;
const ADDRESS_RE = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/;

function parseAddress(raw: unknown): Address | undefined {
  if (isAddress(raw)) {
    const { host, port } = raw;
    if (typeof host === 'string' && host !== '' && Number.isInteger(port) && port >= 1 && port <= PORT_MAX) {
      return { host, port };
    }
    return undefined;
  }
  if (typeof raw !== 'string') return undefined;
  const match = ADDRESS_RE.exec(raw.trim());
  if (match === null) return undefined;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  return port >= 1 && port <= PORT_MAX ? { host, port } : undefined;
}

function parseNumeric(spec: NumericSpec, raw: unknown): number | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  switch (spec.kind) {
    case 'int':
      if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
      return INT_RE.test(raw.trim()) && Number.isSafeInteger(Number(raw)) ? Number(raw) : undefined;
    case 'number': {
      if (typeof raw === 'string' && raw.trim() === '') return undefined;
      const n = Number(raw);
      return Number.isFinite(n) ? n : undefined;
    }
    case 'size':
      return parseSize(raw);
    case 'duration':
      return parseDuration(raw);
  }
}

const NUMERIC_EXPECTED: Readonly<Record<NumericSpec['kind'], string>> = {
  int: 'an integer',
  number: 'a number',
  size: 'a size like 512m or 2g',
  duration: 'a duration like 500ms, 10s or 2m',
};

function coerceNumeric(spec: NumericSpec, raw: unknown): Coerced {
  const n = parseNumeric(spec, raw);
  if (n === undefined) return { ok: false, problem: `expected ${NUMERIC_EXPECTED[spec.kind]}, got ${shown(spec, raw)}` };
  if (spec.min !== undefined && n < spec.min) {
    return { ok: false, problem: `must be at least ${formatValue(spec, spec.min)}, got ${shown(spec, raw)}` };
  }
  if (spec.max !== undefined && n > spec.max) {
    return { ok: false, problem: `must be at most ${formatValue(spec, spec.max)}, got ${shown(spec, raw)}` };
  }
  return { ok: true, value: n };
}

function coerceList(spec: ListSpec, raw: unknown): Coerced {
  if (typeof raw === 'string') {
    const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    return { ok: true, value: Object.freeze(items) };
  }
  if (Array.isArray(raw) && raw.every((s): s is string => typeof s === 'string' && s.trim() !== '')) {
    return { ok: true, value: Object.freeze(raw.map((s) => s.trim())) };
  }
  return { ok: false, problem: `expected a comma separated list of non-empty strings, got ${shown(spec, raw)}` };
}

function coerceAddresses(spec: AddressesSpec, raw: unknown): Coerced {
  const items = typeof raw === 'string' ? raw.split(',').filter((s) => s.trim() !== '') : Array.isArray(raw) ? raw : [raw];
  const out = items.map(parseAddress);
  if (out.length === 0 || out.some((a) => a === undefined)) {
    return { ok: false, problem: `expected host:port (or several, comma separated) with ports in 1..${PORT_MAX}, got ${shown(spec, raw)}` };
  }
  return { ok: true, value: Object.freeze(out.map((a) => Object.freeze(a!))) };
}

/**
 * Turns one raw value into the option's typed value. Text comes from flags
 * and env; JSON values and caller defaults may already be typed.
 */
export function coerce(spec: OptionSpec, raw: unknown): Coerced {
  switch (spec.kind) {
    case 'int':
    case 'number':
    case 'size':
    case 'duration':
      return coerceNumeric(spec, raw);
    case 'bool': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      const b = typeof raw === 'string' ? BOOL_TEXT.get(raw.trim().toLowerCase()) : undefined;
      return b === undefined ? { ok: false, problem: `expected true or false, got ${shown(spec, raw)}` } : { ok: true, value: b };
    }
    case 'string':
      return typeof raw === 'string'
        ? { ok: true, value: raw }
        : { ok: false, problem: `expected a string, got ${shown(spec, raw)}` };
    case 'enum':
      return typeof raw === 'string' && spec.values.includes(raw.trim())
        ? { ok: true, value: raw.trim() }
        : { ok: false, problem: `expected one of ${spec.values.join(', ')}, got ${shown(spec, raw)}` };
    case 'list':
      return coerceList(spec, raw);
    case 'address': {
      const a = parseAddress(raw);
      return a === undefined
        ? { ok: false, problem: `expected host:port with a port in 1..${PORT_MAX}, got ${shown(spec, raw)}` }
        : { ok: true, value: Object.freeze(a) };
    }
    case 'addresses':
      return coerceAddresses(spec, raw);
  }
}

/** camelCase option name -> kebab-case flag name ("memoryLimit" -> "memory-limit"). */
export function flagName(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** camelCase option name -> env var ("memoryLimit" -> "BRAID_MEMORY_LIMIT"). */
export function envName(option: string): string {
  return `BRAID_${option.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
