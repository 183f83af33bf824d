import { humanBytes } from './format.js';

/**
 * A progress bar per phase on stderr: redrawn in place on a terminal, a line
 * per quarter otherwise (logs, CI).
 */
export class ProgressBar {
  private lastQuarter = -1;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, total: number, bytes: number): void {
    const fraction = total === 0 ? 1 : done / total;
    const text = `${this.label.padEnd(7)} ${done}/${total} tasks  ${humanBytes(bytes)}`;
    if (this.out.isTTY) {
      const now = Date.now();
      if (now - this.lastDraw < 100 && done < total) return;
      this.lastDraw = now;
      const width = 30;
      const filled = Math.round(fraction * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}  `);
      if (done === total) this.out.write('\n');
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.out.write(`${text} (${Math.round(fraction * 100)}%)\n`);
    }
  }
}
