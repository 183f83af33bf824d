/**
 * The `--help` text of a role: one table row per option with its flag, env
 * variable, default and description, rendered from the same schema the
 * resolver uses, so help cannot drift from behaviour.
 */
import { SCHEMAS, type ConfigRole } from './options.js';
import { envName, flagName, formatValue, placeholder, type OptionSpec } from './schema.js';
import { CONFIG_ENV, CONFIG_FLAG } from './sources.js';

function flagColumn(option: string, spec: OptionSpec): string {
  const flag = flagName(option);
  return spec.kind === 'bool' ? `--[no-]${flag}` : `--${flag} ${placeholder(spec)}`;
}

function defaultColumn(spec: OptionSpec): string {
  if (spec.default === undefined) return 'required';
  if (spec.kind === 'list' && spec.default.length === 0) return '(none)';
  if (spec.kind === 'string' || spec.kind === 'enum') return spec.default === '' ? '""' : spec.default;
  return formatValue(spec, spec.default);
}

function descriptionColumn(spec: OptionSpec): string {
  if (spec.kind === 'enum' || spec.kind === 'bool' || spec.kind === 'string') return spec.description;
  if (spec.kind === 'list' || spec.kind === 'address' || spec.kind === 'addresses') return spec.description;
  if (spec.min === undefined && spec.max === undefined) return spec.description;
  const min = spec.min === undefined ? '' : formatValue(spec, spec.min);
  const max = spec.max === undefined ? '' : formatValue(spec, spec.max);
  const range = max === '' ? `>= ${min}` : min === '' ? `<= ${max}` : `${min}..${max}`;
  return `${spec.description} [${range}]`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}`)
    .join('\n');
}

/** The help text for `braid <role> --help`. */
export function describeOptions(role: ConfigRole): string {
  const options: Readonly<Record<string, OptionSpec>> = SCHEMAS[role].options;
  const rows: string[][] = [
    ['flag', 'environment', 'default', 'description'],
    [`${CONFIG_FLAG} <path>`, CONFIG_ENV, '', 'JSON file of options, keys in camelCase.'],
  ];
  for (const [option, spec] of Object.entries(options)) {
    rows.push([flagColumn(option, spec), envName(option), defaultColumn(spec), descriptionColumn(spec)]);
  }
  return [
    `Usage: braid ${role} [options]`,
    '',
    'Each option is taken from, later winning: its default, the config file, the environment, the flags.',
    '',
    table(rows),
    '',
    'Sizes are bytes or 64k, 8m, 1g, 2t (binary units). Durations are milliseconds or 500ms, 10s, 2m, 1h.',
    'Lists are comma separated. Flags also accept --name=value.',
    '',
  ].join('\n');
}
