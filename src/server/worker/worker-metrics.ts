/**
 * What the worker reports to its metrics. Kept as an interface of plain
 * calls so the hot path never formats a label string; the Prometheus
 * implementation binds label values once.
 */
export interface WorkerMetrics {
  pushed(type: number, bytes: number): void;
  pushStatus(status: number): void;
  pushLatency(seconds: number): void;
  split(kind: 'soft' | 'hard'): void;
  fetched(bytes: number, seconds: number): void;
  cache(hit: boolean): void;
  rpc(method: string, seconds: number): void;
}

export const NOOP_WORKER_METRICS: WorkerMetrics = {
  pushed() {},
  pushStatus() {},
  pushLatency() {},
  split() {},
  fetched() {},
  cache() {},
  rpc() {},
};
