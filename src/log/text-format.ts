/**
 * Renders one pino JSON line as plain text for people:
 *
 *   2026-12-02T15:40:01.123Z INFO  worker  registered with master  master=10.0.0.1:9097 disks=2
 *
 * Runs only for lines whose level is on, never on a hot path.
 */
const SKIP: ReadonlySet<string> = new Set(['time', 'level', 'msg', 'role', 'pid', 'hostname']);

function show(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

export function formatTextLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = String(entry.level ?? '').toUpperCase().padEnd(5);
  const role = typeof entry.role === 'string' ? `${entry.role}  ` : '';
  const fields = Object.entries(entry)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => (k === 'err' && typeof v === 'object' && v !== null ? `err=${show((v as { message?: unknown }).message)}` : `${k}=${show(v)}`));
  return `${String(entry.time ?? '')} ${level} ${role}${String(entry.msg ?? '')}${fields.length > 0 ? '  ' + fields.join(' ') : ''}\n`;
}
