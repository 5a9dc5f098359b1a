/**
 * Pool credentials on `npm start`'s stack runtime: the synthesized stack (an `env` credential is
 * accepted for the local runtime), its gateway function (streams) and its plan step functions
 * behind the local Step Functions (non-streamed requests) read the credential from the process's
 * environment and send it to the backends, never the client's key. The backends listen on fixed
 * ports so the config, and with it the synth cache, stays the same from run to run.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../../local/stack/start-stack.ts';
import type { RecordingBackend } from '../../backends/recording-backend.ts';
import { guardedEngine, startRecordingBackend } from '../../backends/recording-backend.ts';
import { MODEL, startTestStack } from './fixture.ts';

const KEY = 'sk-ss-test-stack-credentials-0123456789abcdef';
const PORTS = { prefill: 29431, decode: 29432, gpu: 29433 } as const;
const ENV = { prefill: 'SS_STACK_PREFILL_KEY', decode: 'SS_STACK_DECODE_KEY', gpu: 'SS_STACK_GPU_KEY' } as const;
const SECRETS = { prefill: 'stack-prefill-1a2b3c', decode: 'stack-decode-4d5e6f', gpu: 'stack-gpu-7a8b9c' } as const;
type Pool = keyof typeof PORTS;
const POOLS = Object.keys(PORTS) as Pool[];

const CONFIG = {
  pools: {
    prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [`http://127.0.0.1:${PORTS.prefill}`], load: false, auth: { env: ENV.prefill } },
    decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [`http://127.0.0.1:${PORTS.decode}`], load: false, auth: { env: ENV.decode } },
    gpu: { protocol: 'openai', endpoints: [`http://127.0.0.1:${PORTS.gpu}`], load: false, auth: { env: ENV.gpu, header: 'x-api-key' } },
  },
  models: { [MODEL]: { pools: POOLS } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } },
    default: { route: { mode: 'aggregated', pool: 'gpu' } },
  },
  tenants: [{ id: 'stack-credentials', apiKeys: [KEY], tiers: ['priority', 'default'] }],
};

describe('pool credentials on the stack runtime', () => {
  const backends = {} as Record<Pool, RecordingBackend>;
  let stack: LocalStack;
  let client: OpenAI;

  beforeAll(async () => {
    for (const pool of POOLS) {
      process.env[ENV[pool]] = SECRETS[pool];
      const header = pool === 'gpu' ? 'x-api-key' : 'authorization';
      backends[pool] = await startRecordingBackend(guardedEngine(header, () => (pool === 'gpu' ? SECRETS[pool] : `Bearer ${SECRETS[pool]}`)), PORTS[pool]);
    }
    stack = await startTestStack({ config: CONFIG, cache: 'cdk.out.test-credentials' });
    client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEY, maxRetries: 0 });
  }, 240_000);
  afterAll(async () => {
    await stack?.close();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    for (const env of Object.values(ENV)) delete process.env[env];
  });

  const ask = async (tier: 'priority' | 'default', stream: boolean) => {
    const request = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 2, service_tier: tier as 'priority' };
    if (!stream) return (await client.chat.completions.create(request)).choices[0]?.message.content;
    let text = '';
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  };

  it.each([
    ['priority', false, ['prefill', 'decode']],
    ['priority', true, ['prefill', 'decode']],
    ['default', false, ['gpu']],
    ['default', true, ['gpu']],
  ] as Array<['priority' | 'default', boolean, Pool[]]>)('%s (stream %s): each pool gets its credential, never the client\'s key', async (tier, stream, pools) => {
    const since = Object.fromEntries(POOLS.map((p) => [p, backends[p].requests.length])) as Record<Pool, number>;
    expect(await ask(tier, stream)).toBe('ok');
    for (const pool of pools) {
      const calls = backends[pool].requests.slice(since[pool]);
      expect(calls).toHaveLength(1);
      if (pool === 'gpu') expect([calls[0]!.headers['x-api-key'], calls[0]!.headers.authorization]).toEqual([SECRETS.gpu, undefined]);
      else expect(calls[0]!.headers.authorization).toBe(`Bearer ${SECRETS[pool]}`);
    }
    expect(JSON.stringify(Object.values(backends).flatMap((b) => b.requests))).not.toContain(KEY);
  });
});
