/**
 * The local runtimes' own read-only routes, answered by the local process before a request
 * reaches the gateway (or, in the stack runtime, the emulated API Gateway):
 *
 * - `GET /metrics`: the process's metrics in the Prometheus text format (the names of
 *   lambda/core/metric-catalogue.ts);
 * - `GET /status`: a static page (local/status-page.ts) that polls
 * - `GET /status.json`: per tier and pool, the live figures.
 *
 * Unauthenticated, like a health endpoint: they show no tenant, key, request id or prompt (the
 * aggregate keeps none). The deployed API has no such routes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusSnapshot } from '../lambda/core/metrics-aggregate.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../lambda/core/prometheus-text.ts';
import { STATUS_PAGE_HTML } from './status-page.ts';

/** What the routes read: the process's metrics (lambda/core/metrics-aggregate.ts). */
export interface ObservedProcess {
  prometheusText(): string;
  status(): StatusSnapshot;
}

/** A listener that answers some requests itself: true when it did. */
export type LocalRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The paths served. */
export const OBSERVABILITY_PATHS = { metrics: '/metrics', status: '/status', statusJson: '/status.json' } as const;

/** The page may run its own inline script and fetch from its origin, nothing else. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
};

/**
 * `GET /metrics`, `/status` and `/status.json` over `observed`; any other request is left to the
 * next listener.
 *
 * @example
 * const server = await listen(withLocalRoutes(nodeHandler(runtime.gateway), observabilityRoutes(aggregate)));
 */
export function observabilityRoutes(observed: ObservedProcess): LocalRoutes {
  return (req, res) => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === OBSERVABILITY_PATHS.metrics) {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }).end(observed.prometheusText());
      return true;
    }
    if (path === OBSERVABILITY_PATHS.statusJson) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(observed.status()));
      return true;
    }
    if (path === OBSERVABILITY_PATHS.status) {
      res.writeHead(200, PAGE_HEADERS).end(STATUS_PAGE_HTML);
      return true;
    }
    return false;
  };
}

/**
 * A listener that lets `routes` answer first and hands everything else to `next`. A request
 * answered by `routes` has its body (if any) drained.
 */
export function withLocalRoutes(
  next: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  routes: LocalRoutes,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (routes(req, res)) {
      req.resume();
      return;
    }
    await next(req, res);
  };
}
