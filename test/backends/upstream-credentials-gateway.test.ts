/**
 * Pool credentials end to end: the official `openai` client → the gateway (`startLocal`) →
 * loopback backends that record every request's headers and refuse any without their pool's
 * credential. Each pool's calls carry its own credential (vLLM prefill → decode, SGLang's paired
 * calls, an aggregated pool, streamed and not, health checks and load polls) and never the
 * client's splitserve key; a rotated credential is picked up on the backend's 401; a refused or
 * unreadable credential is a 502 whose body, like the logs, never holds the value.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';
import type { RecordingBackend } from './recording-backend.ts';
import { guardedEngine as engine, startRecordingBackend } from './recording-backend.ts';

const CLIENT_KEY = 'sk-ss-test-upstream-auth-0123456789abcdef0123';
const MODEL = 'llama-3.1-8b';
const ENV = { prefill: 'SS_TEST_PREFILL_KEY', decode: 'SS_TEST_DECODE_KEY', gpu: 'SS_TEST_GPU_KEY', sgPrefill: 'SS_TEST_SG_PREFILL_KEY', sgDecode: 'SS_TEST_SG_DECODE_KEY' } as const;
const SECRETS = { prefill: 'up-prefill-5b2c8e', decode: 'up-decode-91f0aa', gpu: 'up-gpu-33d7e1', sgPrefill: 'up-sgp-c4a209', sgDecode: 'up-sgd-70be15' };

type Tier = 'priority' | 'default' | 'flex';

describe('pool credentials through the gateway', () => {
  const accepted = { ...SECRETS };
  const backends = {} as Record<keyof typeof SECRETS, RecordingBackend>;
  const logger = capturingLogger();
  let local: LocalGateway;
  let client: OpenAI;

  beforeAll(async () => {
    for (const [name, env] of Object.entries(ENV)) process.env[env] = SECRETS[name as keyof typeof SECRETS];
    const pool = (name: string) => name as keyof typeof SECRETS;
    const header = (name: keyof typeof SECRETS) => (name.startsWith('sg') ? 'x-api-key' : 'authorization');
    const expected = (name: keyof typeof SECRETS) => () => (header(name) === 'authorization' ? `Bearer ${accepted[name]}` : accepted[name]);
    for (const name of Object.keys(SECRETS).map(pool)) backends[name] = await startRecordingBackend(engine(header(name), expected(name)));
    const config = parseConfig({
      pools: {
        prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [backends.prefill.url], auth: { env: ENV.prefill } },
        decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [backends.decode.url], auth: { env: ENV.decode } },
        gpu: { protocol: 'openai', endpoints: [backends.gpu.url], auth: { env: ENV.gpu }, health: { intervalMs: 100 }, load: { intervalMs: 100 } },
        'sg-prefill': { protocol: 'sglang', role: 'prefill', endpoints: [backends.sgPrefill.url], load: false, auth: { env: ENV.sgPrefill, header: 'x-api-key' } },
        'sg-decode': { protocol: 'sglang', role: 'decode', endpoints: [backends.sgDecode.url], load: false, auth: { env: ENV.sgDecode, header: 'X-Api-Key' } },
      },
      models: { [MODEL]: { pools: ['prefill', 'decode', 'gpu', 'sg-prefill', 'sg-decode'] } },
      tiers: {
        priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } },
        default: { route: { mode: 'aggregated', pool: 'gpu' } },
        flex: { route: { mode: 'disaggregated', prefill: 'sg-prefill', decode: 'sg-decode' } },
      },
      tenants: [{ id: 'auth', apiKeys: [CLIENT_KEY], tiers: ['priority', 'default', 'flex'] }],
    });
    local = await startLocal({ config, port: 0, logger });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    for (const env of Object.values(ENV)) delete process.env[env];
  });

  const ask = async (tier: Tier, stream: boolean): Promise<string | null | undefined> => {
    const request = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 2, service_tier: tier as 'priority' };
    if (!stream) return (await client.chat.completions.create(request)).choices[0]?.message.content;
    let text = '';
    for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) text += chunk.choices[0]?.delta.content ?? '';
    return text;
  };
  const completions = (name: keyof typeof SECRETS, since = 0) => backends[name].requests.slice(since).filter((r) => r.path === '/v1/chat/completions');
  const everything = () => JSON.stringify(Object.values(backends).flatMap((b) => b.requests));

  it.each([
    ['priority', false],
    ['priority', true],
    ['default', false],
    ['default', true],
    ['flex', false],
    ['flex', true],
  ] as Array<[Tier, boolean]>)('%s (stream %s): every call carries its own pool\'s credential, never the client\'s key', async (tier, stream) => {
    const since = Object.fromEntries(Object.entries(backends).map(([name, b]) => [name, b.requests.length]));
    expect(await ask(tier, stream)).toBe('ok');
    const called = { priority: ['prefill', 'decode'], default: ['gpu'], flex: ['sgPrefill', 'sgDecode'] }[tier] as Array<keyof typeof SECRETS>;
    for (const name of called) {
      const calls = completions(name, since[name]);
      expect(calls).toHaveLength(1);
      const { headers } = calls[0]!;
      if (name.startsWith('sg')) {
        expect(headers['x-api-key']).toBe(SECRETS[name]);
        expect(headers.authorization).toBeUndefined();
      } else {
        expect(headers.authorization).toBe(`Bearer ${SECRETS[name]}`);
      }
    }
    expect(everything()).not.toContain(CLIENT_KEY);
  });

  it('health checks and load polls carry the pool\'s credential too', async () => {
    await expect.poll(() => backends.gpu.requests.filter((r) => r.path === '/health').length, { timeout: 5000 }).toBeGreaterThan(0);
    await expect.poll(() => backends.gpu.requests.filter((r) => r.path === '/metrics').length, { timeout: 5000 }).toBeGreaterThan(0);
    const checks = backends.gpu.requests.filter((r) => r.path === '/health' || r.path === '/metrics');
    expect(checks.every((r) => r.headers.authorization === `Bearer ${SECRETS.gpu}`)).toBe(true);
    expect(local.runtime.pools.snapshot('gpu')[0]).toMatchObject({ healthy: true, load: 0 });
  });

  it('a rotated credential is picked up on the backend\'s 401: read again, the call sent once more, the client never sees it', async () => {
    // sg-decode is neither health-checked nor polled: its requests are the completions alone.
    const rotated = 'up-sgd-rotated-e8f41d';
    process.env[ENV.sgDecode] = rotated;
    accepted.sgDecode = rotated;
    const since = backends.sgDecode.requests.length;
    expect(await ask('flex', true)).toBe('ok');
    expect(completions('sgDecode', since).map((r) => r.headers['x-api-key'])).toEqual([SECRETS.sgDecode, rotated]);
    expect(await ask('flex', false)).toBe('ok');
    expect(completions('sgDecode', since).map((r) => r.headers['x-api-key'])).toEqual([SECRETS.sgDecode, rotated, rotated]);
    SECRETS.sgDecode = rotated;
  });

  it('a credential the backend still refuses after reading it again is a 502 saying so, with neither the value nor the backend\'s echo of it in the body or the logs', async () => {
    accepted.decode = 'something-else-entirely';
    const since = backends.decode.requests.length;
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, service_tier: 'priority' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof OpenAI.APIError>).error).toEqual({
      message: "The decode backend refused the pool's credential (HTTP 401).",
      type: 'upstream_error',
      param: null,
      code: 'upstream_error',
    });
    // Sent once, refused, read again (the same value: one read per interval at most), sent once more; not retried by the plan.
    expect(completions('decode', since).map((r) => r.headers.authorization)).toEqual([`Bearer ${SECRETS.decode}`, `Bearer ${SECRETS.decode}`]);
    const logs = JSON.stringify(logger.records);
    expect(logs).toContain("refused the pool's credential");
    for (const secret of Object.values(SECRETS)) expect(logs).not.toContain(secret);
    expect(JSON.stringify((err as InstanceType<typeof OpenAI.APIError>).error)).not.toContain(SECRETS.decode);
    accepted.decode = SECRETS.decode;
  });

  it('a backend error quoting the value, cut inside the quote, reaches the client without the value\'s first characters', async () => {
    // The gateway keeps the first 500 characters of a backend's message: this one is cut 6
    // characters into the credential.
    const message = `${'x'.repeat(489)} key ${SECRETS.gpu} rejected`;
    const normal = engine('authorization', () => `Bearer ${accepted.gpu}`);
    backends.gpu.respond((req, res) => {
      if (req.path !== '/v1/chat/completions') return normal(req, res);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type: 'invalid_request_error' } }));
    });
    try {
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, service_tier: 'default' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const text = (err as InstanceType<typeof OpenAI.APIError>).error as { message: string };
      expect(message.slice(0, 500).endsWith(SECRETS.gpu.slice(0, 6))).toBe(true); // the cut is inside the value
      expect(text.message.endsWith(' key [credential]')).toBe(true);
      expect(text.message).not.toContain(SECRETS.gpu.slice(0, 4));
    } finally {
      backends.gpu.respond(normal);
    }
  });
});

describe('a pool credential that cannot be read', () => {
  const logger = capturingLogger();
  const env = 'SS_TEST_UNREADABLE_KEY';
  let backend: RecordingBackend;
  let local: LocalGateway;
  let client: OpenAI;

  beforeAll(async () => {
    process.env[env] = 'present-at-start-0f3c';
    backend = await startRecordingBackend(engine('authorization', () => 'Bearer present-at-start-0f3c'));
    const config = parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [backend.url], load: false, auth: { env } } },
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'auth', apiKeys: [CLIENT_KEY], tiers: ['default'] }],
    });
    local = await startLocal({ config, port: 0, logger });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await backend?.close();
    delete process.env[env];
  });

  it('is a 502 naming the pool, the backend never called, the reason in the logs', async () => {
    delete process.env[env];
    for (const stream of [false, true]) {
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream }).catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((err as InstanceType<typeof OpenAI.APIError>).error).toEqual({
        message: 'The gpu backend\'s credential could not be read; the gateway\'s operator must fix the pool\'s "auth" setting.',
        type: 'upstream_error',
        param: null,
        code: 'upstream_error',
      });
    }
    expect(backend.requests).toEqual([]);
    expect(logger.records.find((r) => r.message === 'could not read a pool credential')?.fields).toEqual({
      pool: 'gpu',
      source: 'env',
      reason: `the environment variable ${env} is not set`,
      transient: false,
    });
  });
});
