/**
 * One Prometheus exposition for one or several role registries. Several
 * registries cannot simply be concatenated: they hold the same metric names,
 * and a family may appear only once per scrape. So each role's Braid series
 * are rendered on their own and merged family by family (the roles' labels,
 * e.g. role and worker, keep the series apart; give in-process workers
 * distinct labels), and the shared process series are added once, without
 * role labels.
 */
import { Registry } from 'prom-client';
import { braidSeriesOf, type Metrics } from './metrics.js';
import { renderProcessMetrics } from './process.js';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

function isList(source: Metrics | readonly Metrics[]): source is readonly Metrics[] {
  return Array.isArray(source);
}

interface Family {
  readonly header: string[];
  readonly samples: string[];
}

/** Adds the families of one exposition text to `families`, keeping first-seen order. */
function mergeText(families: Map<string, Family>, text: string): void {
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const name = line.slice(7).split(' ', 1)[0] ?? '';
      current = families.get(name);
      if (current === undefined) {
        current = { header: [], samples: [] };
        families.set(name, current);
      }
      if (current.header.length < 2 && !current.header.includes(line)) current.header.push(line);
      continue;
    }
    current?.samples.push(line);
  }
}

export async function renderMetrics(source: Metrics | readonly Metrics[]): Promise<string> {
  const list = isList(source) ? source : [source];
  if (list.length === 1 && list[0] !== undefined) return list[0].render();

  const families = new Map<string, Family>();
  let withProcess = false;
  for (const m of list) {
    await m.prepareScrape();
    const own = braidSeriesOf(m);
    if (own === undefined) continue;
    mergeText(families, await own.metrics());
    // The process series are the only ones the public registry has beyond `own`.
    withProcess ||= m.registry.getMetricsAsArray().length > own.getMetricsAsArray().length;
  }
  const blocks = [...families.values()].map((f) => [...f.header, ...f.samples].join('\n'));
  if (withProcess) blocks.push((await renderProcessMetrics()).trimEnd());
  return `${blocks.join('\n\n')}\n`;
}
