import { afterEach, describe, expect, test } from 'vitest';
import { createMetrics, startHttpServer, type HttpServerHandle } from '../../src/metrics/index.js';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';

const servers: HttpServerHandle[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(status: () => unknown = () => ({ ok: true })) {
  const metrics = createMetrics('master');
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, status });
  servers.push(server);
  const base = `http://127.0.0.1:${server.address.port}`;
  return { metrics, server, base };
}

function handles(kind: 'TCPServerWrap' | 'TCPSocketWrap'): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}

/** Socket handles go away a turn or two after their peer closed them. */
async function settles(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
}

describe('startHttpServer', () => {
  test('listens on the given host and a free port', async () => {
    const { server } = await start();
    expect(server.address.host).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
  });

  test('GET /metrics returns Prometheus text with the current values', async () => {
    const { metrics, base } = await start();
    metrics.workersRegistered.set(3);
    metrics.rpcRequests.inc('RegisterWorker', 2);
    metrics.rpcLatency.observe('RegisterWorker', 0.003);
    let scrapes = 0;
    metrics.onScrape(() => {
      scrapes++;
      metrics.applicationsActive.set(5);
    });

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('# TYPE braid_workers_registered gauge');
    expect(text).toMatch(/^braid_workers_registered\{role="master"\} 3$/m);
    expect(text).toMatch(/^braid_rpc_requests_total\{method="RegisterWorker",role="master"\} 2$/m);
    expect(text).toMatch(/^braid_rpc_latency_seconds_count\{.*method="RegisterWorker".*\} 1$/m);
    expect(text).toMatch(/^braid_applications_active\{role="master"\} 5$/m);
    expect(text).toMatch(/^process_resident_memory_bytes\{role="master"\} \d+/m);
    expect(scrapes).toBe(1);

    metrics.workersRegistered.set(4);
    expect(await (await fetch(`${base}/metrics?fresh=1`)).text()).toMatch(/^braid_workers_registered\{role="master"\} 4$/m);
  });

  test('GET /status returns the status callback as JSON, bigints, maps and sets included', async () => {
    let calls = 0;
    const { base } = await start(async () => {
      calls++;
      await Promise.resolve();
      return {
        workers: new Map([['w1:9000', { slots: 4, lastSeen: 12n }]]),
        applications: new Set(['app-1']),
        bytes: 2n ** 64n - 1n,
        shuffles: [],
      };
    });
    const res = await fetch(`${base}/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({
      workers: { 'w1:9000': { slots: 4, lastSeen: 12 } },
      applications: ['app-1'],
      bytes: '18446744073709551615',
      shuffles: [],
    });
    expect(calls).toBe(1);
  });

  test('a failing status callback answers 500 with the error code', async () => {
    const { base } = await start(() => {
      throw new BraidError(ErrorCodes.SHUTTING_DOWN, 'going away');
    });
    const res = await fetch(`${base}/status`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'BRAID_ERR_SHUTTING_DOWN', message: 'going away' } });
  });

  test('GET /healthz', async () => {
    const { base } = await start();
    const res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  test('unknown paths are 404 and other methods 405', async () => {
    const { base } = await start();
    for (const path of ['/', '/metric', '/status/x', '/favicon.ico']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      await res.text();
    }
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    await post.text();
  });

  test('close stops listening and leaves no server handle, even with keep-alive clients', async () => {
    const before = handles('TCPServerWrap');
    const socketsBefore = handles('TCPSocketWrap');
    const metrics = createMetrics('worker', { processMetrics: false });
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, status: () => ({}) });
    expect(handles('TCPServerWrap')).toBe(before + 1);
    const url = `http://127.0.0.1:${server.address.port}/healthz`;
    // fetch() keeps the connection alive; close() must not wait for it to idle out.
    expect(await (await fetch(url)).text()).toBe('ok');

    await server.close();
    await server.close(); // idempotent
    expect(handles('TCPServerWrap')).toBe(before);
    expect(await settles(() => handles('TCPSocketWrap') <= socketsBefore)).toBe(true);
    await expect(fetch(url)).rejects.toThrow();
  });

  test('several roles served as one scrape', async () => {
    const master = createMetrics('master');
    const worker = createMetrics('worker', { labels: { worker: '1' }, processMetrics: false });
    master.workersRegistered.set(1);
    worker.pushBytes.inc(99);
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: [master, worker], status: () => ({}) });
    servers.push(server);
    const text = await (await fetch(`http://127.0.0.1:${server.address.port}/metrics`)).text();
    expect(text).toMatch(/^braid_workers_registered\{role="master"\} 1$/m);
    expect(text).toMatch(/^braid_push_bytes_total\{role="worker",worker="1"\} 99$/m);
    expect(text.match(/^# TYPE braid_push_bytes_total counter$/gm)).toHaveLength(1);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  test('a port in use is a BraidError naming the address', async () => {
    const { server } = await start();
    const metrics = createMetrics('worker', { processMetrics: false });
    const attempt = startHttpServer({ host: '127.0.0.1', port: server.address.port, metrics, status: () => ({}) });
    await expect(attempt).rejects.toThrow(BraidError);
    await expect(attempt).rejects.toThrow(`cannot serve HTTP on 127.0.0.1:${server.address.port}`);
  });
});
