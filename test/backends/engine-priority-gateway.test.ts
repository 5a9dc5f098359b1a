/**
 * Engine priority through the gateway, against engines that do not schedule by it: a vLLM started
 * without `--scheduling-policy priority` refuses any priority other than 0 (a 400, or an error
 * event on a stream). The gateway resends once without the field, remembers the endpoint, logs one
 * warning, and overload control then treats the pool as FIFO. Pools that must not get the field
 * (`enginePriority: false`) never do. The official `openai` client is the caller.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-engine-priority-0123456789abcdef';
const MODEL = 'llama-3.1-8b';

describe('engine priority against engines without priority scheduling', () => {
  let prefill: SimulatorHandle;
  let decode: SimulatorHandle;
  let gpu: SimulatorHandle;
  let plain: SimulatorHandle;
  let local: LocalGateway;
  let client: OpenAI;
  const logger = capturingLogger();

  beforeAll(async () => {
    // Every simulator runs vLLM's default fcfs policy.
    [prefill, decode, gpu, plain] = await Promise.all([
      startSimulator({ profile: 'trainium-prefill', role: 'prefill', speedup: 100 }),
      startSimulator({ profile: 'cerebras-decode', role: 'decode', speedup: 100 }),
      startSimulator({ profile: 'gpu-aggregated', speedup: 100 }),
      startSimulator({ profile: 'gpu-aggregated', speedup: 100 }),
    ]);
    const config = parseConfig({
      pools: {
        prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [prefill.url] },
        decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [decode.url] },
        gpu: { protocol: 'openai', endpoints: [gpu.url] },
        plain: { protocol: 'openai', endpoints: [plain.url], enginePriority: false },
      },
      models: { [MODEL]: { pools: ['prefill', 'decode', 'gpu', 'plain'] } },
      tiers: {
        priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } },
        default: { route: { mode: 'aggregated', pool: 'plain' } },
        flex: { route: { mode: 'aggregated', pool: 'gpu' } },
      },
      tenants: [{ id: 'ep', apiKeys: [KEY], tiers: ['priority', 'default', 'flex'] }],
    });
    local = await startLocal({ config, port: 0, logger });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await Promise.all([prefill, decode, gpu, plain].map((s) => s?.close()));
  });

  const ask = (tier: 'priority' | 'default' | 'flex') => ({ model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 3, service_tier: tier as 'priority' });
  const run = async (tier: 'priority' | 'default' | 'flex', stream: boolean): Promise<string | null | undefined> => {
    if (!stream) return (await client.chat.completions.create(ask(tier))).service_tier;
    let served: string | null | undefined;
    for await (const chunk of await client.chat.completions.create({ ...ask(tier), stream: true })) served = chunk.service_tier;
    return served;
  };
  const calls = (sim: SimulatorHandle, since: number) => sim.stats().recent.filter((r) => r.call > since).map((r) => (r.body as Record<string, unknown>).priority);
  const warnings = () => logger.records.filter((r) => r.level === 'warn' && /refused the request priority/.test(r.message));

  it('a stream refused with an error event is resent at once without the field; the endpoint is remembered, with one warning', async () => {
    const before = gpu.stats().calls;
    expect(await run('flex', true)).toBe('flex');
    expect(calls(gpu, before)).toEqual([10, undefined]);
    expect(warnings().map((w) => w.fields)).toEqual([expect.objectContaining({ pool: 'gpu', endpoint: gpu.url, reason: 'Got priority 10 but Priority scheduling is not enabled.' })]);
    const again = gpu.stats().calls;
    expect(await run('flex', false)).toBe('flex');
    expect(await run('flex', true)).toBe('flex');
    expect(calls(gpu, again)).toEqual([undefined, undefined]);
    expect(warnings()).toHaveLength(1);
    expect(local.runtime.pools.snapshot('gpu')[0]!.priorityRefused).toBe(true);
  });

  it('prefill and decode refused with a 400 are each resent without the field, and the pool then counts as FIFO for overload control', async () => {
    const [p0, d0] = [prefill.stats().calls, decode.stats().calls];
    expect(local.runtime.pools.queue('prefill').honoursPriority).toBe(true);
    expect(await run('priority', false)).toBe('priority');
    expect(calls(prefill, p0)).toEqual([-10, undefined]);
    expect(calls(decode, d0)).toEqual([-10, undefined]);
    const [p1, d1] = [prefill.stats().calls, decode.stats().calls];
    expect(await run('priority', true)).toBe('priority');
    expect(calls(prefill, p1)).toEqual([undefined]);
    expect(calls(decode, d1)).toEqual([undefined]);
    expect(warnings().map((w) => w.fields.pool)).toEqual(['gpu', 'prefill', 'decode']);
    expect(local.runtime.pools.queue('prefill').honoursPriority).toBe(false);
    expect(local.runtime.pools.queue('decode').honoursPriority).toBe(false);
  });

  it('a pool with enginePriority false never gets the field', async () => {
    const before = plain.stats().calls;
    expect(await run('default', true)).toBe('default');
    expect(await run('default', false)).toBe('default');
    expect(calls(plain, before)).toEqual([undefined, undefined]);
    expect(plain.stats().recent.every((r) => !Object.hasOwn(r.body as object, 'priority'))).toBe(true);
  });

  it('refuses a client that sets the engine priority itself: the tier decides it', async () => {
    const err = await client.chat.completions.create({ ...ask('flex'), priority: -1000 } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ type: 'invalid_request_error', param: 'priority' });
  });
});
