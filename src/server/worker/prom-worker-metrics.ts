import type { Metrics } from '../../metrics/index.js';
import { MessageType, pushStatusName } from '../../protocol/index.js';
import type { WorkerMetrics } from './worker-metrics.js';

/** Counts one served control RPC and its latency. */
export function observeRpc(m: Metrics, method: string, seconds: number): void {
  m.rpcRequests.inc(method);
  m.rpcLatency.observe(method, seconds);
}

/** Binds the worker's metric calls to its Prometheus series. Status names are computed once per code. */
export function promWorkerMetrics(m: Metrics): WorkerMetrics {
  const statusSeries = new Map<number, { inc(n?: number): void }>();
  return {
    pushed(type, bytes) {
      m.pushRequests.inc(type === MessageType.PushMergedData ? 'merged' : 'data');
      m.pushBytes.inc(bytes);
    },
    pushStatus(status) {
      let s = statusSeries.get(status);
      if (s === undefined) statusSeries.set(status, (s = m.pushStatus.series(pushStatusName(status))));
      s.inc();
    },
    pushLatency: (seconds) => m.pushLatency.observe(seconds),
    split: (kind) => m.splits.inc(kind),
    fetched(bytes, seconds) {
      m.fetchChunks.inc();
      m.fetchBytes.inc(bytes);
      m.fetchLatency.observe(seconds);
    },
    cache: (hit) => (hit ? m.chunkCacheHits : m.chunkCacheMisses).inc(),
    rpc: (method, seconds) => observeRpc(m, method, seconds),
  };
}
