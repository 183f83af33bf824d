import { describe, expect, test } from 'vitest';
import { MAX_LABEL_VALUES, createMetrics, renderMetrics } from '../../src/metrics/index.js';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';

/** Name and sorted labels, so that label order in the text does not matter. */
function seriesKey(series: string): string {
  const open = series.indexOf('{');
  if (open === -1) return series;
  const labels = series.slice(open + 1, -1).split(/,(?=[a-z_]+=")/).sort();
  return `${series.slice(0, open)}{${labels.join(',')}}`;
}

/** The value of one series, e.g. `braid_push_bytes_total{role="worker"}`; undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const key = seriesKey(series);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    if (seriesKey(line.slice(0, space)) === key) return Number(line.slice(space + 1));
  }
  return undefined;
}

describe('createMetrics', () => {
  test('every series is exposed under braid_ with the role label, before any traffic', async () => {
    const text = await createMetrics('worker').render();
    for (const name of [
      'push_requests_total',
      'push_bytes_total',
      'push_status_total',
      'fetch_chunks_total',
      'fetch_bytes_total',
      'splits_total',
      'socket_pauses_total',
      'chunk_cache_hits_total',
      'chunk_cache_misses_total',
      'rpc_requests_total',
      'push_latency_seconds',
      'fetch_latency_seconds',
      'rpc_latency_seconds',
      'memory_buffered_bytes',
      'memory_limit_bytes',
      'slots_reserved',
      'workers_registered',
      'workers_lost',
      'applications_active',
      'shuffles_active',
      'streams_open',
    ]) {
      expect(text, name).toContain(`# TYPE braid_${name} `);
    }
    expect(sample(text, 'braid_push_bytes_total{role="worker"}')).toBe(0);
    expect(sample(text, 'braid_push_requests_total{type="data",role="worker"}')).toBe(0);
    expect(sample(text, 'braid_splits_total{kind="hard",role="worker"}')).toBe(0);
    // Node process series keep their standard names.
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
  });

  test('counters, labelled counters, gauges and histograms', async () => {
    const m = createMetrics('worker', { labels: { worker: 'w1' } });
    m.pushBytes.inc(1000);
    m.pushBytes.inc(24);
    m.pushBytes.inc();
    m.pushRequests.inc('merged');
    m.pushRequests.inc('merged', 2);
    const success = m.pushStatus.series('SUCCESS');
    success.inc();
    success.inc(4);
    m.pushStatus.inc('HARD_SPLIT');
    m.splits.inc('soft');
    m.rpcRequests.inc('RequestSlots');
    m.memoryBuffered.set(4096);
    m.memoryBuffered.inc(4);
    m.memoryBuffered.dec(100);
    m.streamsOpen.inc();
    m.pushLatency.observe(0.002);
    m.pushLatency.observe(0.2);
    m.rpcLatency.observe('RequestSlots', 0.01);

    expect(m.pushBytes.value).toBe(1025);
    expect(m.pushRequests.get('merged')).toBe(3);
    expect(m.pushStatus.get('SUCCESS')).toBe(5);
    expect(m.pushStatus.get('MAP_ENDED')).toBe(0);

    const text = await m.render();
    const l = 'role="worker",worker="w1"';
    expect(sample(text, `braid_push_bytes_total{${l}}`)).toBe(1025);
    expect(sample(text, `braid_push_requests_total{type="merged",${l}}`)).toBe(3);
    expect(sample(text, `braid_push_requests_total{type="data",${l}}`)).toBe(0);
    expect(sample(text, `braid_push_status_total{status="SUCCESS",${l}}`)).toBe(5);
    expect(sample(text, `braid_push_status_total{status="HARD_SPLIT",${l}}`)).toBe(1);
    expect(sample(text, `braid_splits_total{kind="soft",${l}}`)).toBe(1);
    expect(sample(text, `braid_rpc_requests_total{method="RequestSlots",${l}}`)).toBe(1);
    expect(sample(text, `braid_memory_buffered_bytes{${l}}`)).toBe(4000);
    expect(sample(text, `braid_streams_open{${l}}`)).toBe(1);
    expect(sample(text, `braid_push_latency_seconds_count{${l}}`)).toBe(2);
    expect(sample(text, `braid_push_latency_seconds_sum{${l}}`)).toBeCloseTo(0.202);
    expect(sample(text, `braid_push_latency_seconds_bucket{le="0.0025",${l}}`)).toBe(1);
    expect(sample(text, `braid_push_latency_seconds_bucket{le="+Inf",${l}}`)).toBe(2);
    expect(sample(text, `braid_rpc_latency_seconds_count{method="RequestSlots",${l}}`)).toBe(1);

    // A second scrape reports the same totals, not twice them.
    m.pushBytes.inc(1);
    expect(sample(await m.render(), `braid_push_bytes_total{${l}}`)).toBe(1026);
  });

  test('each role has its own registry', async () => {
    const a = createMetrics('master');
    const b = createMetrics('master');
    expect(a.registry).not.toBe(b.registry);
    a.workersRegistered.set(3);
    expect(sample(await a.render(), 'braid_workers_registered{role="master"}')).toBe(3);
    expect(sample(await b.render(), 'braid_workers_registered{role="master"}')).toBe(0);
  });

  test('a counter never goes down', () => {
    const m = createMetrics('worker');
    expect(() => m.fetchBytes.inc(-1)).toThrow(BraidError);
    expect(() => m.fetchBytes.inc(Number.NaN)).toThrow(expect.objectContaining({ code: ErrorCodes.INTERNAL }));
    expect(() => m.rpcRequests.inc('x', -2)).toThrow(BraidError);
    expect(m.fetchBytes.value).toBe(0);
  });

  test('unbounded label values are folded into "other"', async () => {
    const m = createMetrics('master', { processMetrics: false });
    for (let i = 0; i < MAX_LABEL_VALUES + 10; i++) m.rpcRequests.inc(`method${i}`);
    const text = await m.render();
    const lines = text.split('\n').filter((line) => line.startsWith('braid_rpc_requests_total{'));
    expect(lines).toHaveLength(MAX_LABEL_VALUES);
    expect(sample(text, 'braid_rpc_requests_total{method="other",role="master"}')).toBe(11);
  });

  test('scrape hooks set gauges only when scraped, and can be removed', async () => {
    const m = createMetrics('worker', { processMetrics: false });
    let held = 10;
    let calls = 0;
    const off = m.onScrape(async () => {
      calls++;
      await Promise.resolve();
      m.memoryBuffered.set(held);
    });
    expect(calls).toBe(0);
    expect(sample(await m.render(), 'braid_memory_buffered_bytes{role="worker"}')).toBe(10);
    held = 20;
    expect(sample(await m.render(), 'braid_memory_buffered_bytes{role="worker"}')).toBe(20);
    off();
    held = 30;
    expect(sample(await m.render(), 'braid_memory_buffered_bytes{role="worker"}')).toBe(20);
    expect(calls).toBe(2);
    expect(await m.render()).not.toContain('process_cpu');
  });
});

describe('renderMetrics of several roles', () => {
  test('one family per name, series kept apart by labels, process series once', async () => {
    const master = createMetrics('master');
    const w1 = createMetrics('worker', { labels: { worker: '1' } });
    const w2 = createMetrics('worker', { labels: { worker: '2' }, processMetrics: false });
    master.workersRegistered.set(2);
    w1.pushBytes.inc(10);
    w2.pushBytes.inc(32);
    w2.pushLatency.observe(0.5);
    let hooked = false;
    w2.onScrape(() => {
      hooked = true;
    });

    const text = await renderMetrics([master, w1, w2]);
    expect(hooked).toBe(true);
    expect(text.match(/^# TYPE braid_push_bytes_total /gm)).toHaveLength(1);
    expect(text.match(/^# TYPE process_cpu_user_seconds_total /gm)).toHaveLength(1);
    expect(sample(text, 'braid_push_bytes_total{role="worker",worker="1"}')).toBe(10);
    expect(sample(text, 'braid_push_bytes_total{role="worker",worker="2"}')).toBe(32);
    expect(sample(text, 'braid_workers_registered{role="master"}')).toBe(2);
    expect(sample(text, 'braid_push_latency_seconds_count{role="worker",worker="2"}')).toBe(1);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  test('a single-element list renders like the role itself', async () => {
    const m = createMetrics('standalone', { processMetrics: false });
    m.shufflesActive.set(7);
    expect(await renderMetrics([m])).toBe(await m.render());
  });
});
