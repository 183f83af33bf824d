/**
 * Summarises a V8 .cpuprofile (from node --cpu-prof, or run.js --profile):
 * self time per function, heaviest first, with where it is defined.
 *
 *   node dist-bench/bench/tools/profile-top.js bench/profiles/<file>.cpuprofile [top=25]
 */
import { readFileSync } from 'node:fs';
import { markdownTable } from '../lib/format.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function summarise(profile: CpuProfile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (node === undefined) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url === '' ? '' : `${url.replace(/^.*\/(dist-bench|node:)/, '$1')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    total += dt;
  });
  const idle = selfUs.get('(idle)') ?? 0;
  const busy = total - idle;
  const rows = [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => [k, (us / 1000).toFixed(1), `${((100 * us) / total).toFixed(1)} %`, k === '(idle)' ? '' : `${((100 * us) / busy).toFixed(1)} %`]);
  return `${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy\n\n${markdownTable(['function', 'self ms', 'of all', 'of busy'], rows)}`;
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write('usage: profile-top.js <file.cpuprofile> [top]\n');
  process.exit(2);
}
process.stdout.write(`${summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(topArg ?? 25))}\n`);
