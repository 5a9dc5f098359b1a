/**
 * Stopping a gateway with requests in flight, on both runtimes: a stream that would not finish
 * in time ends with an OpenAI error event (`server_shutting_down`) and `[DONE]`, never a silent
 * cut, and is metered with what it served; a request arriving during the drain is refused with a
 * 503. The store is the test's own (it outlives the gateways), so the records can be read after.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator, type SimulatorHandle } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { KEY as STACK_KEY, MODEL, startTestStack } from './stack/fixture.ts';

const KEY = 'sk-ss-test-drain-0123456789abcdef0123456789ab';

interface Running {
  readonly url: string;
  readonly key: string;
  readonly tenant: string;
  stall(afterTokens: number): void;
  close(drainMs: number): Promise<void>;
}

/** Opens a stream; resolves once its first chunk arrived, with a reader of the rest. */
async function openStream(run: Running): Promise<{ requestId: string; first: string; rest: () => Promise<string> }> {
  const res = await fetch(`${run.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${run.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, service_tier: 'default', stream: true, max_tokens: 64, messages: [{ role: 'user', content: 'tell me a long story' }] }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const first = decoder.decode((await reader.read()).value);
  return {
    requestId: res.headers.get('x-request-id')!,
    first,
    rest: async () => {
      let text = '';
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
      return text;
    },
  };
}

const contentChunks = (text: string) => text.split('\n\n').filter((e) => e.includes('"content":"') && !e.includes('"content":""')).length;

async function usageTable(store: EmbeddedDynamo): Promise<string> {
  const { TableNames = [] } = await store.client.send(new ListTablesCommand({}));
  const names = TableNames.filter((n) => /usage/i.test(n));
  expect(names).toHaveLength(1);
  return names[0]!;
}

describe.each(['node', 'stack'] as const)('stopping the %s runtime with a stream in flight', (runtime) => {
  let store: EmbeddedDynamo;
  let sim: SimulatorHandle | undefined;
  let run: Running;

  beforeAll(async () => {
    store = await startEmbeddedDynamo();
    if (runtime === 'node') {
      sim = await startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 });
      const local = await startLocal({
        config: parseConfig({
          pools: { gpu: { protocol: 'openai', endpoints: [sim.url], timeoutMs: 30_000 } },
          models: { [MODEL]: { pools: ['gpu'] } },
          tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
          tenants: [{ id: 'drain', apiKeys: [KEY], tiers: ['default'] }],
        }),
        port: 0,
        logger: silentLogger,
        storeEndpoint: store.endpoint,
      });
      run = { url: local.url, key: KEY, tenant: 'drain', stall: (n) => sim!.setFaults({ stallAfterTokens: n }), close: (drainMs) => local.close({ drainMs }) };
    } else {
      const stack = await startTestStack({ storeEndpoint: store.endpoint });
      run = { url: stack.url, key: STACK_KEY, tenant: 'stack-test', stall: (n) => stack.setFaults('gpu', { stallAfterTokens: n }), close: (drainMs) => stack.close({ drainMs }) };
    }
  }, 120_000);
  afterAll(async () => {
    await sim?.close();
    await store?.close();
  });

  it('ends the stream at the drain deadline with an error event and [DONE], refuses new requests meanwhile, and meters it', async () => {
    run.stall(3);
    const stream = await openStream(run);
    const started = Date.now();
    const closing = run.close(400);
    // While it drains, a new request on a new connection is not served.
    const late = await fetch(`${run.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${run.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    }).then(
      async (res) => ({ status: res.status, body: await res.text() }),
      () => ({ status: 0, body: 'connection refused' }),
    );
    // Not served: the listener is closed (refused), or a reused connection gets the 503.
    expect([0, 503]).toContain(late.status);
    if (late.status === 503) expect(JSON.parse(late.body)).toMatchObject({ error: { code: 'server_shutting_down', type: 'server_error' } });

    const text = stream.first + (await stream.rest());
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(JSON.parse(events.at(-2)!.slice('data: '.length))).toEqual({
      error: { message: 'The server is shutting down. Please retry your request.', type: 'server_error', param: null, code: 'server_shutting_down' },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    await closing;

    const records = await usageRecords(store.client, await usageTable(store), run.tenant, Date.now());
    const record = records.filter((r) => r.requestId === stream.requestId);
    expect(record).toHaveLength(1);
    expect(record[0]).toMatchObject({ outcome: 'error', completionTokens: contentChunks(text) });
    expect(contentChunks(text)).toBe(3);
  }, 60_000);
});

describe('a client that goes away mid-stream on the stack runtime', () => {
  it('leaves no invocation pending: the stack stops at once after the abort', async () => {
    const stack = await startTestStack();
    let closed = false;
    try {
      stack.setFaults('gpu', { stallAfterTokens: 3 });
      const controller = new AbortController();
      const res = await fetch(`${stack.url}/v1/chat/completions`, {
        method: 'POST',
        signal: controller.signal,
        headers: { authorization: `Bearer ${STACK_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, service_tier: 'default', stream: true, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.body!.getReader().read();
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 200));
      // The stack waits up to 5 s for invocations still running; a handler that never returned
      // after its client went away (end() on a destroyed response stream) held it that long.
      const started = Date.now();
      await stack.close({ drainMs: 1000 });
      closed = true;
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      if (!closed) await stack.close();
    }
  }, 60_000);
});
