/**
 * Sizes and durations as people write them in flags, env and config files.
 *
 *   size     := digits | decimal unit        unit := k | m | g | t, optionally
 *               followed by "b" or "ib"; all binary (1k = 1024). "123" and
 *               "123b" are bytes; a fraction needs a unit ("1.5g").
 *   duration := digits (milliseconds) | decimal ("ms" | "s" | "m" | "h")
 *
 * Parsers return undefined for anything else; the caller knows which option
 * the text belongs to and words the error.
 */

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i;
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i;

/** Bytes for a size text or a non-negative integer, or undefined when it is neither. */
export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  const match = SIZE_RE.exec(input.trim());
  if (match === null) return undefined;
  const [, digits = '', unit = ''] = match;
  // "1.5" bytes means nothing; fractions are only a shorthand for larger units.
  if (unit === '' && digits.includes('.')) return undefined;
  const bytes = Math.floor(Number(digits) * (SIZE_UNITS[unit.toLowerCase()] ?? 1));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Milliseconds for a duration text or a non-negative number of ms, or undefined. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  const match = DURATION_RE.exec(input.trim());
  if (match === null) return undefined;
  const [, digits = '', unit = 'ms'] = match;
  const ms = Math.round(Number(digits) * (DURATION_UNITS[unit.toLowerCase()] ?? 1));
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The shortest exact text for a byte count: 1073741824 -> "1g", 1500 -> "1500". */
export function formatSize(bytes: number): string {
  for (const unit of ['t', 'g', 'm', 'k'] as const) {
    const factor = SIZE_UNITS[unit] ?? 1;
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/** The shortest exact text for milliseconds: 30000 -> "30s", 1500 -> "1500ms". */
export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's'] as const) {
    const factor = DURATION_UNITS[unit] ?? 1;
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}
