import { describe, expect, it } from 'vitest';
import { mulberry32, hashString } from '../../sim/prng.ts';
import { faultsForCall } from '../../sim/faults.ts';
import { classifyRequest } from '../../sim/kv-transfer.ts';
import { BatchSlots } from '../../sim/slots.ts';
import { paceTokens } from '../../sim/pacing.ts';
import { estimatePromptTokens, forcedTool } from '../../sim/text.ts';

describe('mulberry32', () => {
  it('replays the same sequence for a seed, a different one for another seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    expect(hashString('abc')).toBe(hashString('abc'));
    expect(hashString('abc')).not.toBe(hashString('abd'));
  });
});

describe('faultsForCall', () => {
  it('fails exactly the listed calls and omits kv params for listed calls', () => {
    const rnd = mulberry32(1);
    const plan = { failNth: [2], omitKvParams: [3], errorStatus: 503 };
    expect(faultsForCall(plan, 1, rnd).error).toBeUndefined();
    expect(faultsForCall(plan, 2, rnd).error?.status).toBe(503);
    expect(faultsForCall(plan, 3, rnd).omitKvParams).toBe(true);
    expect(faultsForCall(plan, 4, rnd).omitKvParams).toBe(false);
    expect(faultsForCall({ omitKvParams: true }, 9, rnd).omitKvParams).toBe(true);
  });

  it('draws the error rate from the seeded stream', () => {
    const run = (seed: number): boolean[] => {
      const rnd = mulberry32(seed);
      return Array.from({ length: 40 }, (_, i) => faultsForCall({ errorRate: 0.5 }, i + 1, rnd).error !== undefined);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).toContain(true);
    expect(run(7)).toContain(false);
  });
});

describe('classifyRequest', () => {
  it('reads kv_transfer_params, SGLang rooms and the role', () => {
    expect(classifyRequest({ kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false } }, 'prefill')).toBe('prefill');
    expect(classifyRequest({ kv_transfer_params: { do_remote_prefill: true } }, 'decode')).toBe('decode-remote');
    expect(classifyRequest({}, 'decode')).toBe('decode-recompute');
    expect(classifyRequest({}, 'both')).toBe('aggregated');
    expect(classifyRequest({ bootstrap_room: 5 }, 'prefill')).toBe('prefill');
    expect(classifyRequest({ bootstrap_room: 5 }, 'decode')).toBe('decode-remote');
  });
});

describe('text', () => {
  it('estimates prompt tokens at ≈ 4 characters each, at least 1', () => {
    expect(estimatePromptTokens({ prompt: 'x'.repeat(40) })).toBe(10);
    expect(estimatePromptTokens({ prompt: '' })).toBe(1);
    expect(estimatePromptTokens({ prompt: [1, 2, 3] })).toBe(3);
    expect(estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(17) }] }] })).toBe(5);
  });

  it('forces a tool only for "required" or a named function', () => {
    const tools = [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }];
    expect(forcedTool({ tools, tool_choice: 'auto' })).toBeUndefined();
    expect(forcedTool({ tools, tool_choice: 'required' })?.name).toBe('a');
    expect(forcedTool({ tools, tool_choice: { type: 'function', function: { name: 'b' } } })?.name).toBe('b');
  });
});

describe('BatchSlots', () => {
  it('grants slots FIFO beyond capacity and drops aborted waiters', async () => {
    const slots = new BatchSlots(1);
    const never = new AbortController().signal;
    const first = await slots.acquire(never);
    const order: string[] = [];
    const gone = new AbortController();
    const b = slots.acquire(gone.signal).then(() => order.push('b'), () => order.push('b-aborted'));
    const c = slots.acquire(never).then((release) => { order.push('c'); release(); });
    expect(slots.queued).toBe(2);
    gone.abort(new Error('client left'));
    await b;
    first();
    first(); // a second call is harmless
    await c;
    expect(order).toEqual(['b-aborted', 'c']);
    expect(slots.active).toBe(0);
    expect(slots.queued).toBe(0);
  });
});

describe('paceTokens', () => {
  it('collapses sub-millisecond waits into few writes and emits every token in order', async () => {
    const writes: Array<[number, number]> = [];
    await paceTokens({
      count: 2000,
      firstTokenMs: 0,
      interTokenMs: () => 0.01,
      emit: (from, to) => writes.push([from, to]),
      signal: new AbortController().signal,
    });
    expect(writes.length).toBeLessThan(50);
    expect(writes[0]?.[0]).toBe(0);
    expect(writes.at(-1)?.[1]).toBe(2000);
    for (let i = 1; i < writes.length; i++) expect(writes[i]?.[0]).toBe(writes[i - 1]?.[1]);
  });
});
