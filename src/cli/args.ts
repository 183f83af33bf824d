import { parseSize } from '../config/index.js';
import { BraidError, ErrorCodes } from '../protocol/index.js';

/** `--name value`, `--name=value` and bare `--flag` / `--no-flag` arguments of one command. */
export class Args {
  private readonly values = new Map<string, string | boolean>();
  private readonly used = new Set<string>();

  constructor(argv: readonly string[]) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (!a.startsWith('--')) throw new BraidError(ErrorCodes.CONFIG, `unexpected argument "${a}"`);
      const eq = a.indexOf('=');
      if (eq > 0) this.values.set(a.slice(2, eq), a.slice(eq + 1));
      else if (a.startsWith('--no-')) this.values.set(a.slice(5), false);
      else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) this.values.set(a.slice(2), argv[++i]!);
      else this.values.set(a.slice(2), true);
    }
  }

  string(name: string): string | undefined {
    this.used.add(name);
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new BraidError(ErrorCodes.CONFIG, `--${name} needs a value`);
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    this.used.add(name);
    const v = this.values.get(name);
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (['true', 'on', 'yes', '1'].includes(v)) return true;
    if (['false', 'off', 'no', '0'].includes(v)) return false;
    throw new BraidError(ErrorCodes.CONFIG, `--${name}: expected true or false, got "${v}"`);
  }

  int(name: string, fallback: number, min = 1, max = 1_000_000): number {
    const s = this.string(name);
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new BraidError(ErrorCodes.CONFIG, `--${name}: expected an integer in [${min}, ${max}], got "${s}"`);
    return n;
  }

  size(name: string, fallback: number): number {
    const s = this.string(name);
    if (s === undefined) return fallback;
    const n = parseSize(s);
    if (n === undefined || n <= 0) throw new BraidError(ErrorCodes.CONFIG, `--${name}: expected a size like 512m or 1g, got "${s}"`);
    return n;
  }

  /** Fails on any argument no option asked for. */
  done(): void {
    const unknown = [...this.values.keys()].filter((k) => !this.used.has(k));
    if (unknown.length > 0) throw new BraidError(ErrorCodes.CONFIG, `unknown option${unknown.length > 1 ? 's' : ''}: ${unknown.map((u) => `--${u}`).join(', ')}`);
  }
}
