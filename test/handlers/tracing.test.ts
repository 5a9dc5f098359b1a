/**
 * With tracing on (POWERTOOLS_TRACE_ENABLED=true), in Lambda (AWS_EXECUTION_ENV set, a trace id in
 * the environment) every backend call of the functions' `node:http` transport becomes an X-Ray
 * subsegment; with it off, the tracer is not even loaded (its async hooks would slow every promise).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it, vi } from 'vitest';

describe('tracing in Lambda', () => {
  it('is off unless POWERTOOLS_TRACE_ENABLED is true: no tracer, clients unchanged', async () => {
    vi.resetModules();
    delete process.env.POWERTOOLS_TRACE_ENABLED;
    const { tracer, traced, tracingCalls } = await import('../../lambda/handlers/tracing.ts');
    expect(tracingCalls).toBe(false);
    expect(tracer).toBeUndefined();
    const client = new DynamoDBClient({ region: 'local' });
    expect(traced(client)).toBe(client);
    client.destroy();
  });

  it('records a subsegment per backend call', async () => {
    Object.assign(process.env, {
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_FUNCTION_NAME: 'gateway',
      LAMBDA_TASK_ROOT: '/var/task',
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
      AWS_XRAY_DAEMON_ADDRESS: '127.0.0.1:2000',
      POWERTOOLS_TRACE_ENABLED: 'true',
    });
    vi.resetModules();
    const { tracer } = await import('../../lambda/handlers/tracing.ts');
    const { UpstreamClient } = await import('../../lambda/backends/upstream-client.ts');
    expect(tracer?.isTracingEnabled()).toBe(true);
    if (!tracer) throw new Error('no tracer');

    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new UpstreamClient();
    try {
      const segment = tracer.getSegment()!;
      const handler = segment.addNewSubsegment('## handler');
      tracer.setSegment(handler);
      const reply = await client.post({ endpoint, path: '/v1/chat/completions', body: {}, requestId: 'r1', signal: new AbortController().signal, timeoutMs: 2000, pool: 'gpu' });
      const names = (handler.subsegments ?? []).map((s) => s.name);
      expect(names).toContain('127.0.0.1');
      await reply.body.text();
    } finally {
      await client.close();
      server.close();
    }
  });
});
