import type { BenchResult } from './types.js';

/** A number with about three significant digits and SI suffix for large counts (12.3M, 456k). */
export function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return v.toFixed(0);
  return v.toPrecision(3);
}

export function formatRatio(r: number): string {
  return r === 0 ? '-' : r.toFixed(2);
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} B`;
}

/** Left-aligned first column, right-aligned others, as a Markdown table (paste-able into BENCHMARKS.md). */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function resultsTable(results: readonly BenchResult[]): string {
  return markdownTable(
    ['name', 'value', 'unit', 'baseline', 'ratio'],
    results.map((r) => [r.name, formatValue(r.value), r.unit, r.baseline === 0 ? '-' : formatValue(r.baseline), formatRatio(r.ratio)]),
  );
}
