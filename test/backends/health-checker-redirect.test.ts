/**
 * A health check or load poll never follows a redirect: the pool's credential, sent in a header
 * fetch does not strip on a cross-host redirect (`x-api-key`), must not reach the host a
 * redirect names, and a 3xx is not a healthy answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamCredential } from '../../lambda/core/backend-ports.ts';
import { HealthChecker } from '../../lambda/backends/health-checker.ts';

const SECRET = 'sk-upstream-secret-never-elsewhere';

function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) })),
  );
}

describe('health checks and load polls with a credential, against a redirecting endpoint', () => {
  const seenElsewhere: http.IncomingHttpHeaders[] = [];
  let other: Awaited<ReturnType<typeof serve>>;
  let endpoint: Awaited<ReturnType<typeof serve>>;
  const credential: UpstreamCredential = {
    header: async () => ({ name: 'x-api-key', value: SECRET }),
    refused: async () => ({ name: 'x-api-key', value: SECRET }),
  } as unknown as UpstreamCredential;

  beforeAll(async () => {
    other = await serve((req, res) => {
      seenElsewhere.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('vllm:num_requests_running 0\n');
    });
    // "localhost" is another host than 127.0.0.1 for fetch's redirect rules.
    const elsewhere = other.url.replace('127.0.0.1', 'localhost');
    endpoint = await serve((req, res) => res.writeHead(302, { location: `${elsewhere}${req.url}` }).end());
  });
  afterAll(async () => {
    await endpoint.close();
    await other.close();
  });

  it('judges a 302 unhealthy, gives no load reading, and sends nothing to the redirect\'s host', async () => {
    const health: boolean[] = [];
    const loads: unknown[] = [];
    const checker = new HealthChecker(
      [
        { kind: 'health', pool: 'p', endpoints: [endpoint.url], path: '/health', intervalMs: 60_000, timeoutMs: 2000, credential },
        { kind: 'load', pool: 'p', endpoints: [endpoint.url], path: '/metrics', intervalMs: 60_000, timeoutMs: 2000, credential },
      ],
      { health: (_pool, _endpoint, healthy) => health.push(healthy), load: (_pool, _endpoint, load) => loads.push(load) },
    );
    await Promise.all([checker.round({ kind: 'health', pool: 'p', endpoints: [endpoint.url], path: '/health', intervalMs: 60_000, timeoutMs: 2000, credential }), checker.round({ kind: 'load', pool: 'p', endpoints: [endpoint.url], path: '/metrics', intervalMs: 60_000, timeoutMs: 2000, credential })]);
    checker.close();
    expect(health).toEqual([false]);
    expect(loads).toEqual([undefined]);
    expect(seenElsewhere).toEqual([]);
  });
});
