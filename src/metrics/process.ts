/**
 * Node process series (CPU, memory, event loop lag, GC, handles), collected
 * once per process. prom-client's collector starts an event-loop-delay
 * monitor and a GC observer each time it runs and never stops them, so each
 * role registry gets the same metric objects instead of its own collector.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

let shared: Registry | undefined;

function processRegistry(): Registry {
  if (shared === undefined) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

/** Registers the shared process series in `registry` too. */
export function processMetricsInto(registry: Registry): void {
  const source = processRegistry();
  for (const { name } of source.getMetricsAsArray()) {
    const metric = source.getSingleMetric(name);
    if (metric !== undefined) registry.registerMetric(metric);
  }
}

/** Prometheus text of the process series alone, without role labels. */
export function renderProcessMetrics(): Promise<string> {
  return processRegistry().metrics();
}
