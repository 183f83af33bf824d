export { startWorker, workerStatusView, type WorkerHandle, type WorkerStatus, type WorkerDeps } from './worker.js';
export { WORKER_DEFAULTS, resolveWorkerOptions, type WorkerOptions, type ResolvedWorkerOptions } from './options.js';
export { NOOP_WORKER_METRICS, type WorkerMetrics } from './worker-metrics.js';
export { promWorkerMetrics, observeRpc } from './prom-worker-metrics.js';
