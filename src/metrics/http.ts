/**
 * The HTTP side of every role: GET /metrics (Prometheus text), GET /status
 * (JSON from the role's status callback) and GET /healthz. node:http, or
 * node:https with the role's TLS material; nothing here is on a data path.
 *
 * /metrics and /healthz are open: they carry no application names and no
 * secrets. /status shows the cluster to an admin (a client certificate of
 * the cluster CA, or a header signed with the secret) and an application
 * only its own part (a header signed with its key); see http-auth.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BraidError, ErrorCodes, Role, asBraidError } from '../protocol/index.js';
import type { HttpAuthenticator, HttpViewer } from '../security/http-auth.js';
import type { TlsMaterial } from '../security/tls.js';
import type { Metrics } from './metrics.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './render.js';

export interface HttpServerOptions {
  readonly host: string;
  /** 0 picks a free port; read the chosen one from `address`. */
  readonly port: number;
  /** One role's metrics, or several roles of one process served as one scrape. */
  readonly metrics: Metrics | readonly Metrics[];
  /** The status `viewer` may see (see the status views of master and worker). */
  readonly status: (viewer: HttpViewer) => unknown | Promise<unknown>;
  /** Checks signed requests to /status; undefined on a server without authentication (everyone sees everything). */
  readonly auth?: HttpAuthenticator;
  /** Serve HTTPS with this material. */
  readonly tls?: TlsMaterial;
}

const ADMIN: HttpViewer = { peerRole: Role.Admin, appId: '' };

/** Who asks for /status, or why they may not. */
function viewerOf(req: IncomingMessage, options: HttpServerOptions): { ok: true; viewer: HttpViewer } | { ok: false; reason: string } {
  if (options.tls !== undefined && (req.socket as TLSSocket).authorized === true) return { ok: true, viewer: ADMIN };
  if (options.auth === undefined) return { ok: true, viewer: ADMIN };
  return options.auth.check(req.method ?? 'GET', req.url ?? '/', req.headers.authorization);
}

export interface HttpServerHandle {
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening and drops open connections (keep-alive ones included). */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

/**
 * JSON for status objects as roles naturally hold them: u64 counters as
 * bigint, tables as Map and Set, errors with codes.
 */
function statusReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  if (value instanceof Error) {
    return { code: value instanceof BraidError ? value.code : undefined, message: value.message };
  }
  return value;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

async function route(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://braid').pathname;
  const known = path === '/metrics' || path === '/status' || path === '/healthz';
  if (!known) return send(res, 404, TEXT_TYPE, 'not found\n');
  if (req.method !== 'GET') {
    res.setHeader('allow', 'GET');
    return send(res, 405, TEXT_TYPE, 'method not allowed\n');
  }
  switch (path) {
    case '/healthz':
      return send(res, 200, TEXT_TYPE, 'ok');
    case '/metrics':
      try {
        return send(res, 200, METRICS_CONTENT_TYPE, await renderMetrics(options.metrics));
      } catch (err) {
        return send(res, 500, TEXT_TYPE, `metrics failed: ${asBraidError(err).message}\n`);
      }
    default: {
      const who = viewerOf(req, options);
      if (!who.ok) {
        res.setHeader('www-authenticate', 'Braid');
        return send(res, 401, JSON_TYPE, JSON.stringify({ error: { code: ErrorCodes.AUTH, message: who.reason } }));
      }
      try {
        return send(res, 200, JSON_TYPE, JSON.stringify(await options.status(who.viewer), statusReplacer));
      } catch (err) {
        const e = asBraidError(err);
        return send(res, 500, JSON_TYPE, JSON.stringify({ error: { code: e.code, message: e.message } }));
      }
    }
  }
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServerHandle> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res, options).catch((err: unknown) => {
      // Only a failure to write the response lands here; the socket is gone or broken.
      res.destroy(err instanceof Error ? err : undefined);
    });
  };
  const tls = options.tls;
  // TCP keepalive on every socket, as on the Braid protocol's: a scraper that vanished is found by the kernel.
  const keepAlive = { keepAlive: true, keepAliveInitialDelay: 10_000 };
  const server = tls === undefined ? createServer(keepAlive, handler) : createHttpsServer({ ...tls.serverOptions(), ...keepAlive }, handler);
  const detach = tls?.attach(server as ReturnType<typeof createHttpsServer>);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      detach?.();
      reject(
        // EADDRINUSE, EADDRNOTAVAIL, EACCES: the host/port options do not fit this machine.
        new BraidError(ErrorCodes.CONFIG, `options "host"/"httpPort": cannot serve HTTP on ${options.host}:${options.port}: ${err.message}`, {
          retriable: false,
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const bound = server.address() as AddressInfo; // listening on TCP, so never a pipe name or null
  let closed: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    close() {
      closed ??= new Promise<void>((resolve) => {
        detach?.();
        server.close(() => resolve());
        // close() waits for keep-alive connections (fetch() keeps them); drop them now.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
