/**
 * Worker registration on `npm start`'s stack runtime, as deployed: the registration routes through
 * the API Gateway emulator to the bundled gateway function, streamed requests served by the
 * gateway function and non-streamed ones by the plan step functions behind the local Step
 * Functions, each discovering the registered workers from the Config table itself. The workers
 * are simulators on loopback ports picked at run time (the config, and so the synth cache, stays
 * the same from run to run).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../../local/stack/start-stack.ts';
import type { SimulatorHandle } from '../../../sim/index.ts';
import { startSimulator } from '../../../sim/index.ts';
import { MODEL, startTestStack } from './fixture.ts';

const KEY = 'sk-ss-test-stack-workers-0123456789abcdef0123';
const SECRET_ENV = 'SS_STACK_WORKER_SECRET';
const SECRET = 'stack-worker-secret-0123456789';
const REFRESH_MS = 200;

const CONFIG = {
  pools: { elastic: { protocol: 'openai', timeoutMs: 10_000, load: false, registration: { heartbeatTtlS: 30, refreshMs: REFRESH_MS, drainS: 30 } } },
  models: { [MODEL]: { pools: ['elastic'] } },
  tiers: { default: { route: { mode: 'aggregated', pool: 'elastic' } } },
  tenants: [{ id: 'stack-workers', apiKeys: [KEY], tiers: ['default'] }],
  workers: { secret: { env: SECRET_ENV } },
};

describe('worker registration on the stack runtime', () => {
  let stack: LocalStack;
  let client: OpenAI;
  let workers: OpenAI;
  let sims: SimulatorHandle[];

  beforeAll(async () => {
    process.env[SECRET_ENV] = SECRET;
    sims = await Promise.all([1, 2].map((seed) => startSimulator({ profile: 'gpu-aggregated', speedup: 1000, seed, schedulingPolicy: 'priority' })));
    stack = await startTestStack({ config: CONFIG, cache: 'cdk.out.test-workers' });
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEY, maxRetries: 0 });
    workers = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: SECRET, maxRetries: 0 });
  }, 240_000);
  afterAll(async () => {
    await stack?.close();
    await Promise.all((sims ?? []).map((s) => s.close()));
    delete process.env[SECRET_ENV];
  });

  const ask = async (stream: boolean): Promise<void> => {
    const request = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 2 };
    if (!stream) {
      await client.chat.completions.create(request);
      return;
    }
    for await (const _ of await client.chat.completions.create({ ...request, stream: true })) void _;
  };
  const calls = (i: number): number => sims[i]!.stats().calls;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('refuses a wrong secret with an OpenAI-shaped 401 through API Gateway', async () => {
    const wrong = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'wrong-secret', maxRetries: 0 });
    const err = await wrong.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
  });

  it('serves streamed (gateway function) and non-streamed (step functions) requests on a registered worker, and stops after its deregistration', async () => {
    await expect(ask(true)).rejects.toMatchObject({ status: 503 });
    await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url } });
    await pause(REFRESH_MS + 50);
    const before = calls(0);
    await ask(true);
    await ask(false);
    expect(calls(0)).toBe(before + 2);

    await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[1]!.url } });
    await workers.post('/workers/deregister', { body: { pool: 'elastic', url: sims[0]!.url } });
    await pause(REFRESH_MS + 50);
    const [left, stayed] = [calls(0), calls(1)];
    for (let i = 0; i < 3; i++) {
      await ask(true);
      await ask(false);
    }
    expect(calls(0)).toBe(left);
    expect(calls(1)).toBe(stayed + 6);
  }, 60_000);
});
