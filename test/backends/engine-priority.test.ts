/**
 * Engine priority: which pools send a tier's `priority` field, its value and polarity per engine,
 * what counts as an engine refusing it, and the resend without it. Pools come from parseConfig;
 * `send` is a plain recording function. No servers.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  PRIORITY_FIELD, enginePriorityFor, isPriorityRefusal, priorityOrderOf, sendsEnginePriority,
  withEnginePriority,
} from '../../lambda/backends/engine-priority.ts';
import type { PoolConfig, SplitserveConfig, TierConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { InvalidRequestError, UpstreamError } from '../../lambda/core/errors.ts';
import type { EnginePriority } from '../../lambda/core/backend-ports.ts';

/** One pool named `p` parsed from a minimal config (plus `tiers`, when given). */
function config(pool: Record<string, unknown>, tiers?: Record<string, unknown>): SplitserveConfig {
  const route = pool.protocol === 'bedrock' ? { mode: 'bedrock', pool: 'p' } : { mode: 'aggregated', pool: 'p' };
  return parseConfig({
    pools: { p: pool },
    models: { m: { pools: ['p'] } },
    tiers: tiers ?? { priority: { route } },
  });
}

function poolOf(pool: Record<string, unknown>): PoolConfig {
  return config(pool).pools.p!;
}

const LOCAL = ['http://127.0.0.1:8000'];

const VLLM_REFUSAL = 'Got priority -10 but Priority scheduling is not enabled.';
const OPENAI_REFUSAL = 'Unrecognized request argument supplied: priority';

describe('sendsEnginePriority', () => {
  it.each(['vllm-nixl', 'sglang', 'openai'])('is on by default for a %s pool', (protocol) => {
    expect(sendsEnginePriority(poolOf({ protocol, endpoints: LOCAL }))).toBe(true);
  });

  it('is on for a simulated pool', () => {
    expect(sendsEnginePriority(poolOf({ protocol: 'vllm-nixl', simulate: { profile: 'gpu-aggregated' } }))).toBe(true);
  });

  it('is never on for Bedrock, even when asked for', () => {
    expect(sendsEnginePriority(poolOf({ protocol: 'bedrock' }))).toBe(false);
    expect(sendsEnginePriority(poolOf({ protocol: 'bedrock', enginePriority: true }))).toBe(false);
  });

  it('is off with enginePriority: false', () => {
    expect(sendsEnginePriority(poolOf({ protocol: 'vllm-nixl', endpoints: LOCAL, enginePriority: false }))).toBe(false);
    expect(sendsEnginePriority(poolOf({ protocol: 'sglang', endpoints: LOCAL, enginePriority: false }))).toBe(false);
  });

  it.each([
    'https://api.openai.com',
    'https://api.openai.com/v1',
    'https://API.OpenAI.com/v1',
    'http://api.openai.com:443/v1',
  ])('is off by default for the hosted OpenAI API at %s', (url) => {
    expect(sendsEnginePriority(poolOf({ protocol: 'openai', endpoints: [url] }))).toBe(false);
  });

  it('is off when any endpoint of the pool is the hosted OpenAI API', () => {
    expect(sendsEnginePriority(poolOf({ protocol: 'openai', endpoints: ['http://10.0.0.1:8000', 'https://api.openai.com/v1'] }))).toBe(false);
  });

  it('is on at api.openai.com with enginePriority: true', () => {
    expect(sendsEnginePriority(poolOf({ protocol: 'openai', endpoints: ['https://api.openai.com/v1'], enginePriority: true }))).toBe(true);
  });

  it.each([
    'https://api.openai.com.example.net/v1',
    'https://my-api.openai.com/v1',
    'https://proxy.example.com/api.openai.com/v1',
  ])('is on for %s, which is not the hosted API', (url) => {
    expect(sendsEnginePriority(poolOf({ protocol: 'openai', endpoints: [url] }))).toBe(true);
  });
});

describe('priorityOrderOf', () => {
  it('is high-first for sglang and low-first for the others by default', () => {
    expect(priorityOrderOf(poolOf({ protocol: 'sglang', endpoints: LOCAL }))).toBe('high-first');
    expect(priorityOrderOf(poolOf({ protocol: 'vllm-nixl', endpoints: LOCAL }))).toBe('low-first');
    expect(priorityOrderOf(poolOf({ protocol: 'openai', endpoints: LOCAL }))).toBe('low-first');
  });

  it('follows the pool setting either way', () => {
    expect(priorityOrderOf(poolOf({ protocol: 'sglang', endpoints: LOCAL, priorityOrder: 'low-first' }))).toBe('low-first');
    expect(priorityOrderOf(poolOf({ protocol: 'vllm-nixl', endpoints: LOCAL, priorityOrder: 'high-first' }))).toBe('high-first');
  });
});

describe('enginePriorityFor', () => {
  const tiers = config({ protocol: 'vllm-nixl', endpoints: LOCAL }, {
    priority: { route: { mode: 'aggregated', pool: 'p' } },
    default: { route: { mode: 'aggregated', pool: 'p' } },
    flex: { route: { mode: 'aggregated', pool: 'p' }, enginePriority: 3 },
  }).tiers;
  const vllm = poolOf({ protocol: 'vllm-nixl', endpoints: LOCAL });
  const sglang = poolOf({ protocol: 'sglang', endpoints: LOCAL });

  it("sends vLLM's convention as is to a low-first engine", () => {
    expect(enginePriorityFor(vllm, 'priority', tiers.priority)).toBe(-10);
    expect(enginePriorityFor(vllm, 'default', tiers.default)).toBe(0);
    expect(enginePriorityFor(vllm, 'flex', tiers.flex)).toBe(3);
  });

  it('negates the value for a high-first engine (SGLang by default)', () => {
    expect(enginePriorityFor(sglang, 'priority', tiers.priority)).toBe(10);
    expect(enginePriorityFor(sglang, 'flex', tiers.flex)).toBe(-3);
    const flipped = poolOf({ protocol: 'vllm-nixl', endpoints: LOCAL, priorityOrder: 'high-first' });
    expect(enginePriorityFor(flipped, 'priority', undefined)).toBe(10);
    expect(enginePriorityFor(flipped, 'flex', undefined)).toBe(-10);
  });

  it('keeps the order of the tiers on either polarity: priority goes first', () => {
    const low = (['priority', 'default', 'flex'] as const).map((t) => enginePriorityFor(vllm, t, undefined)!);
    const high = (['priority', 'default', 'flex'] as const).map((t) => enginePriorityFor(sglang, t, undefined)!);
    expect(low).toEqual([...low].sort((a, b) => a - b));
    expect(high).toEqual([...high].sort((a, b) => b - a));
  });

  it('sends 0, not -0, for a tier at 0 on a high-first engine', () => {
    const value = enginePriorityFor(sglang, 'default', tiers.default);
    expect(Object.is(value, 0)).toBe(true);
    expect(JSON.stringify({ priority: value })).toBe('{"priority":0}');
    expect(Object.is(enginePriorityFor(vllm, 'default', undefined), 0)).toBe(true);
  });

  it('is undefined when the pool sends no engine priority', () => {
    expect(enginePriorityFor(poolOf({ protocol: 'bedrock' }), 'priority', tiers.priority)).toBeUndefined();
    expect(enginePriorityFor(poolOf({ protocol: 'sglang', endpoints: LOCAL, enginePriority: false }), 'priority', tiers.priority)).toBeUndefined();
    expect(enginePriorityFor(poolOf({ protocol: 'openai', endpoints: ['https://api.openai.com/v1'] }), 'flex', tiers.flex)).toBeUndefined();
  });
});

describe('isPriorityRefusal', () => {
  it("recognises vLLM's refusal without priority scheduling", () => {
    expect(isPriorityRefusal(new InvalidRequestError(VLLM_REFUSAL))).toBe(true);
  });

  it("recognises the OpenAI API's refusal of an unknown argument", () => {
    expect(isPriorityRefusal(new InvalidRequestError(OPENAI_REFUSAL))).toBe(true);
  });

  it('is false for a 400 about something else', () => {
    expect(isPriorityRefusal(new InvalidRequestError("This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."))).toBe(false);
    expect(isPriorityRefusal(new InvalidRequestError("Invalid 'temperature': must be between 0 and 2.", 'temperature'))).toBe(false);
  });

  it('needs the whole word: "priority_class" or "prioritySetting" do not count', () => {
    expect(isPriorityRefusal(new InvalidRequestError('Unrecognized request argument supplied: priority_class'))).toBe(false);
    expect(isPriorityRefusal(new InvalidRequestError('Unrecognized request argument supplied: prioritySetting'))).toBe(false);
  });

  it('is false for an error that is not a 400, even when it names priority', () => {
    expect(isPriorityRefusal(new UpstreamError(VLLM_REFUSAL))).toBe(false);
    expect(isPriorityRefusal(new UpstreamError('priority queue overflow', 503))).toBe(false);
    expect(isPriorityRefusal(new Error(VLLM_REFUSAL))).toBe(false);
    expect(isPriorityRefusal(VLLM_REFUSAL)).toBe(false);
    expect(isPriorityRefusal(undefined)).toBe(false);
  });
});

/** A `send` that records the bodies it got and answers with the outcomes given, in order. */
function recorder<T>(...outcomes: Array<{ ok: T } | { fail: unknown }>) {
  const bodies: Array<Record<string, unknown>> = [];
  const send = async (body: Record<string, unknown>): Promise<T> => {
    bodies.push(body);
    const next = outcomes[bodies.length - 1];
    if (next === undefined) throw new Error(`unexpected send #${bodies.length}`);
    if ('fail' in next) throw next.fail;
    return next.ok;
  };
  return { bodies, send };
}

function priorityOf(value: number) {
  const reasons: string[] = [];
  const p: EnginePriority = { value, refused: (reason) => void reasons.push(reason) };
  return { p, reasons };
}

describe('withEnginePriority', () => {
  /** A fresh upstream body each time: the caller's own copy, which withEnginePriority sets the field on. */
  const plain = () => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 }) as Record<string, unknown>;
  let body = plain();
  beforeEach(() => {
    body = plain();
  });

  it('sends the caller\'s body with the priority field set on it', async () => {
    const { bodies, send } = recorder({ ok: 'answer' });
    const { p, reasons } = priorityOf(-10);
    await expect(withEnginePriority(p, body, send)).resolves.toBe('answer');
    expect(bodies).toEqual([{ ...plain(), priority: -10 }]);
    expect(PRIORITY_FIELD).toBe('priority');
    expect(bodies[0]).toBe(body);
    expect(reasons).toEqual([]);
  });

  it('sends a priority of 0 as a field too', async () => {
    const { bodies, send } = recorder({ ok: 1 });
    await withEnginePriority(priorityOf(0).p, body, send);
    expect(bodies[0]).toHaveProperty('priority', 0);
  });

  it('overrides a priority the body already carries', async () => {
    const { bodies, send } = recorder({ ok: 1 });
    await withEnginePriority(priorityOf(10).p, { ...body, priority: 99 }, send);
    expect(bodies[0]!.priority).toBe(10);
  });

  it("on vLLM's refusal reports it once and resends exactly once without the field", async () => {
    const { bodies, send } = recorder({ fail: new InvalidRequestError(VLLM_REFUSAL) }, { ok: 'second' });
    const { p, reasons } = priorityOf(-10);
    await expect(withEnginePriority(p, body, send)).resolves.toBe('second');
    expect(reasons).toEqual([VLLM_REFUSAL]);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toHaveProperty('priority', -10);
    expect(bodies[1]).toEqual(plain());
    expect(bodies[1]).not.toHaveProperty('priority');
    expect(bodies[1]).not.toBe(bodies[0]);
  });

  it("on the OpenAI API's refusal resends without the field", async () => {
    const { bodies, send } = recorder({ fail: new InvalidRequestError(OPENAI_REFUSAL) }, { ok: 'ok' });
    const { p, reasons } = priorityOf(0);
    await expect(withEnginePriority(p, body, send)).resolves.toBe('ok');
    expect(reasons).toEqual([OPENAI_REFUSAL]);
    expect(bodies.map((b) => 'priority' in b)).toEqual([true, false]);
  });

  it('rejects with the resend\'s error when the resend fails too, without a third send', async () => {
    const second = new UpstreamError('engine down', 503);
    const { bodies, send } = recorder({ fail: new InvalidRequestError(VLLM_REFUSAL) }, { fail: second });
    const { p, reasons } = priorityOf(-10);
    await expect(withEnginePriority(p, body, send)).rejects.toBe(second);
    expect(bodies).toHaveLength(2);
    expect(reasons).toHaveLength(1);
  });

  it('does not resend on a second refusal (the field is already gone)', async () => {
    const again = new InvalidRequestError(VLLM_REFUSAL);
    const { bodies, send } = recorder({ fail: new InvalidRequestError(VLLM_REFUSAL) }, { fail: again });
    const { p, reasons } = priorityOf(-10);
    await expect(withEnginePriority(p, body, send)).rejects.toBe(again);
    expect(bodies).toHaveLength(2);
    expect(reasons).toHaveLength(1);
  });

  it.each([
    ['a 400 about something else', new InvalidRequestError('max_tokens must be at least 1')],
    ['an upstream error naming priority', new UpstreamError(VLLM_REFUSAL)],
    ['a plain error', new Error('socket hang up')],
  ])('rethrows %s without a second send or a refusal', async (_what, error) => {
    const { bodies, send } = recorder({ fail: error }, { ok: 'never' });
    const { p, reasons } = priorityOf(-10);
    await expect(withEnginePriority(p, body, send)).rejects.toBe(error);
    expect(bodies).toHaveLength(1);
    expect(reasons).toEqual([]);
  });

  it('sends the body as is, once, with no priority', async () => {
    const { bodies, send } = recorder({ ok: 'plain' });
    await expect(withEnginePriority(undefined, body, send)).resolves.toBe('plain');
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toBe(body);
    expect(bodies[0]).not.toHaveProperty('priority');
  });

  it('with no priority, a refusal-looking error is not retried', async () => {
    const error = new InvalidRequestError(VLLM_REFUSAL);
    const { bodies, send } = recorder({ fail: error }, { ok: 'never' });
    await expect(withEnginePriority(undefined, body, send)).rejects.toBe(error);
    expect(bodies).toHaveLength(1);
  });

  it('works with the value enginePriorityFor gives a tier', async () => {
    const pool = poolOf({ protocol: 'sglang', endpoints: LOCAL });
    const tier: TierConfig | undefined = undefined;
    const value = enginePriorityFor(pool, 'priority', tier)!;
    const { bodies, send } = recorder({ ok: 1 });
    await withEnginePriority(priorityOf(value).p, body, send);
    expect(bodies[0]!.priority).toBe(10);
  });
});
