/** Prometheus metrics of each role and the HTTP endpoint that serves them. */
export {
  createMetrics,
  type Metrics,
  type MetricsOptions,
  type MetricsRole,
  type PushType,
  type SplitKind,
  type HistogramSeries,
  type LabeledHistogramSeries,
} from './metrics.js';
export { MAX_LABEL_VALUES, type CounterSeries, type LabeledCounterSeries, type GaugeSeries } from './series.js';
export { renderMetrics, METRICS_CONTENT_TYPE } from './render.js';
export { startHttpServer, type HttpServerOptions, type HttpServerHandle } from './http.js';
