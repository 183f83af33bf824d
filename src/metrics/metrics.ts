/**
 * The metrics of one Braid role, in a registry of its own: several roles (a
 * standalone master and its workers, or tests) can share a process without
 * their series colliding. Every Braid series is named `braid_*`; the Node
 * process series keep their standard names (process_*, nodejs_*) so stock
 * dashboards work, and are collected once per process (see process.ts).
 */
import { Gauge, Histogram, Registry } from 'prom-client';
import { processMetricsInto } from './process.js';
import {
  counter,
  gauge,
  labeledCounter,
  labeledGauge,
  type CounterSeries,
  type GaugeSeries,
  type LabeledCounterSeries,
  type LabeledGaugeSeries,
} from './series.js';

export type MetricsRole = 'master' | 'worker' | 'standalone' | 'client' | 'lifecycle';

export type PushType = 'data' | 'merged';
export const MASTER_ROLE_NAMES = ['alone', 'leader', 'standby', 'candidate'] as const;
export type MasterRoleName = (typeof MASTER_ROLE_NAMES)[number];
export type SplitKind = 'soft' | 'hard';

export interface HistogramSeries {
  /** One observation, in seconds. */
  observe(seconds: number): void;
}

export interface LabeledHistogramSeries<L extends string> {
  observe(label: L, seconds: number): void;
}

export interface Metrics {
  readonly role: MetricsRole;
  /**
   * Braid and process series. Read it with `metrics()` (or `render()`), not
   * `getMetricsAsJSON()`: prom-client's JSON path writes this registry's
   * labels into the process series, which every registry shares.
   */
  readonly registry: Registry;

  /** braid_push_requests_total{type}: PushData and PushMergedData requests received. */
  readonly pushRequests: LabeledCounterSeries<PushType>;
  /** braid_push_bytes_total: pushed body bytes received. */
  readonly pushBytes: CounterSeries;
  /** braid_push_status_total{status}: per-batch answers, by status name (e.g. pushStatusName()). */
  readonly pushStatus: LabeledCounterSeries<string>;
  readonly fetchChunks: CounterSeries;
  readonly fetchBytes: CounterSeries;
  /** braid_splits_total{kind}: SOFT_SPLIT and HARD_SPLIT answers. */
  readonly splits: LabeledCounterSeries<SplitKind>;
  /** braid_socket_pauses_total: times a socket was paused for memory pressure. */
  readonly socketPauses: CounterSeries;
  readonly chunkCacheHits: CounterSeries;
  readonly chunkCacheMisses: CounterSeries;
  /** braid_rpc_requests_total{method}: control RPCs served, by method name. */
  readonly rpcRequests: LabeledCounterSeries<string>;

  readonly pushLatency: HistogramSeries;
  readonly fetchLatency: HistogramSeries;
  readonly rpcLatency: LabeledHistogramSeries<string>;

  readonly memoryBuffered: GaugeSeries;
  readonly memoryLimit: GaugeSeries;
  readonly slotsReserved: GaugeSeries;
  readonly workersRegistered: GaugeSeries;
  readonly workersLost: GaugeSeries;
  readonly applicationsActive: GaugeSeries;
  readonly shufflesActive: GaugeSeries;
  readonly streamsOpen: GaugeSeries;
  // security: connections and quotas
  readonly connectionsOpen: GaugeSeries;
  readonly connectionsRefused: LabeledCounterSeries<string>;
  readonly quotaLimit: LabeledGaugeSeries<string>;
  readonly quotaRefusals: LabeledCounterSeries<string>;

  /** braid_master_leader: 1 while this master leads (or runs alone), else 0. */
  readonly masterLeader: GaugeSeries;
  /** braid_master_role{role}: 1 for this master's role (alone, leader, standby, candidate), 0 for the others. */
  readonly masterRole: { set(role: MasterRoleName): void };
  /** braid_master_term: the election term of the leader this master knows (0 alone or unknown). */
  readonly masterTerm: GaugeSeries;
  /** braid_master_elections_total: times this master was elected leader. */
  readonly masterElections: CounterSeries;
  /** braid_master_step_downs_total: times it stopped leading. */
  readonly masterStepDowns: CounterSeries;
  /** braid_master_failovers_total: times it saw leadership pass from one master to another. */
  readonly masterFailovers: CounterSeries;

  /**
   * Runs `hook` before every scrape, so an owner can set its gauges from its
   * own state only when someone looks. Returns a function that removes it.
   */
  onScrape(hook: () => void | Promise<void>): () => void;
  /** Runs the scrape hooks; the HTTP server calls this before reading the registry. */
  prepareScrape(): Promise<void>;
  /** Prometheus text of everything in the registry (after the scrape hooks). */
  render(): Promise<string>;
}

export interface MetricsOptions {
  /** Labels on every series of this registry besides `role`, e.g. `{ worker: '2' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Include the Node process series (default true). */
  readonly processMetrics?: boolean;
}

/** Latencies from loopback sub-millisecond round trips up to stalled requests. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const PREFIX = 'braid_';

/** Each role's Braid series alone, without the shared process series (see render.ts). */
const ownSeries = new WeakMap<Metrics, Registry>();

export function braidSeriesOf(metrics: Metrics): Registry | undefined {
  return ownSeries.get(metrics);
}

export function createMetrics(role: MetricsRole, options: MetricsOptions = {}): Metrics {
  const labels = { role, ...options.labels };
  // `own` holds the Braid series alone; the public `registry` holds them plus,
  // if wanted, the process series, which every registry of the process shares.
  const own = new Registry();
  own.setDefaultLabels(labels);
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  if (options.processMetrics ?? true) processMetricsInto(registry);
  const registers = [own, registry];

  const def = (name: string, help: string) => ({ name: PREFIX + name, help, registers });
  const histogram = (name: string, help: string): Histogram =>
    new Histogram({ name: PREFIX + name, help, buckets: LATENCY_BUCKETS, registers });
  const rpcLatency = new Histogram<'method'>({
    name: `${PREFIX}rpc_latency_seconds`,
    help: 'Time to serve a control RPC, by method.',
    labelNames: ['method'],
    buckets: LATENCY_BUCKETS,
    registers,
  });

  const masterRole = new Gauge<'role'>({
    name: `${PREFIX}master_role`,
    help: "This master's role: 1 for the current one (alone, leader, standby, candidate).",
    labelNames: ['role'],
    registers,
  });

  const hooks = new Set<() => void | Promise<void>>();
  const prepareScrape = async (): Promise<void> => {
    for (const hook of hooks) await hook();
  };

  const metrics: Metrics = {
    role,
    registry,
    pushRequests: labeledCounter<PushType>({
      ...def('push_requests_total', 'Push requests received, by type (data or merged).'),
      label: 'type',
      initial: ['data', 'merged'],
    }),
    pushBytes: counter(def('push_bytes_total', 'Pushed body bytes received.')),
    pushStatus: labeledCounter<string>({
      ...def('push_status_total', 'Per-batch push answers, by status.'),
      label: 'status',
    }),
    fetchChunks: counter(def('fetch_chunks_total', 'Chunks served to readers.')),
    fetchBytes: counter(def('fetch_bytes_total', 'Chunk bytes served to readers.')),
    splits: labeledCounter<SplitKind>({
      ...def('splits_total', 'Split answers given to writers, by kind (soft or hard).'),
      label: 'kind',
      initial: ['soft', 'hard'],
    }),
    socketPauses: counter(def('socket_pauses_total', 'Times a socket stopped being read because of memory pressure.')),
    chunkCacheHits: counter(def('chunk_cache_hits_total', 'Chunk reads answered from the chunk cache.')),
    chunkCacheMisses: counter(def('chunk_cache_misses_total', 'Chunk reads that went to disk.')),
    rpcRequests: labeledCounter<string>({
      ...def('rpc_requests_total', 'Control RPCs served, by method.'),
      label: 'method',
    }),
    pushLatency: histogram('push_latency_seconds', 'Time from receiving a push to acknowledging it.'),
    fetchLatency: histogram('fetch_latency_seconds', 'Time to serve one chunk fetch.'),
    rpcLatency: { observe: (method, seconds) => rpcLatency.observe({ method }, seconds) },
    memoryBuffered: gauge(def('memory_buffered_bytes', 'Bytes of pushed data held in memory.')),
    memoryLimit: gauge(def('memory_limit_bytes', 'Buffered bytes above which push sockets are paused.')),
    slotsReserved: gauge(def('slots_reserved', 'Partition slots currently reserved.')),
    workersRegistered: gauge(def('workers_registered', 'Workers known to the master and alive.')),
    workersLost: gauge(def('workers_lost', 'Workers the master declared lost.')),
    applicationsActive: gauge(def('applications_active', 'Applications with live heartbeats.')),
    shufflesActive: gauge(def('shuffles_active', 'Shuffles registered and not yet removed.')),
    streamsOpen: gauge(def('streams_open', 'Read streams currently open.')),
    masterLeader: gauge(def('master_leader', '1 while this master leads (or runs alone), else 0.')),
    masterRole: {
      set(current) {
        for (const r of MASTER_ROLE_NAMES) masterRole.set({ role: r }, r === current ? 1 : 0);
      },
    },
    masterTerm: gauge(def('master_term', 'Election term of the leader this master knows; 0 when alone or unknown.')),
    masterElections: counter(def('master_elections_total', 'Times this master was elected leader.')),
    masterStepDowns: counter(def('master_step_downs_total', 'Times this master stopped leading.')),
    masterFailovers: counter(def('master_failovers_total', 'Times this master saw leadership pass from one master to another.')),
    connectionsOpen: gauge(def('connections_open', 'Protocol connections open, authenticated or not.')),
    connectionsRefused: labeledCounter<string>({
      ...def('connections_refused_total', 'Connections refused (limits, failed handshakes, TLS), by error code.'),
      label: 'code',
    }),
    quotaLimit: labeledGauge<string>({ ...def('quota_limit', 'The limit of each quota (its option, e.g. quotaAppBytes).'), label: 'quota' }),
    quotaRefusals: labeledCounter<string>({ ...def('quota_refusals_total', 'Requests refused for a quota, by quota option.'), label: 'quota' }),
    onScrape(hook) {
      hooks.add(hook);
      return () => hooks.delete(hook);
    },
    prepareScrape,
    async render() {
      await prepareScrape();
      return registry.metrics();
    },
  };

  ownSeries.set(metrics, own);
  return metrics;
}
