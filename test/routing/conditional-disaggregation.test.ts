import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { ROUTE_KINDS } from '../../lambda/core/plan.ts';
import { PREFILL_DECISIONS, decidePrefill } from '../../lambda/routing/conditional-disaggregation.ts';

describe('decidePrefill', () => {
  it('always disaggregates when neither field is set, whatever the prompt or the queue', () => {
    for (const tokens of [0, 1, 50, 100_000]) {
      for (const queue of [undefined, 0, 1_000]) expect(decidePrefill({}, tokens, queue)).toBe('disaggregated');
    }
  });

  it('always disaggregates with the config defaults (localPrefillBelowTokens 0, no queue bound)', () => {
    const config = parseConfig({
      pools: {
        p: { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['http://127.0.0.1:1'] },
        d: { protocol: 'vllm-nixl', role: 'decode', endpoints: ['http://127.0.0.1:2'] },
      },
      models: { m: { pools: ['p', 'd'] } },
      tiers: { priority: { route: { mode: 'disaggregated', prefill: 'p', decode: 'd' } } },
    });
    const route = config.tiers.priority!.route;
    if (route.mode !== 'disaggregated') throw new Error('expected a disaggregated route');
    expect(route.localPrefillBelowTokens).toBe(0);
    expect(decidePrefill(route, 1, 10_000)).toBe('disaggregated');
  });

  it('serves a prompt below the threshold locally, and one at the threshold disaggregated', () => {
    const route = { localPrefillBelowTokens: 256 };
    expect(decidePrefill(route, 255, 0)).toBe('local-prefill-short');
    expect(decidePrefill(route, 256, 0)).toBe('disaggregated');
  });

  it('serves locally when the prefill pool already has maxPrefillQueue calls in flight', () => {
    const route = { maxPrefillQueue: 4 };
    expect(decidePrefill(route, 5_000, 3)).toBe('disaggregated');
    expect(decidePrefill(route, 5_000, 4)).toBe('local-prefill-queue');
    expect(decidePrefill(route, 5_000, 40)).toBe('local-prefill-queue');
  });

  it('checks the short-prompt rule first, and ignores the bound when the queue is unknown', () => {
    const route = { localPrefillBelowTokens: 100, maxPrefillQueue: 1 };
    expect(decidePrefill(route, 10, 9)).toBe('local-prefill-short');
    expect(decidePrefill(route, 1_000, undefined)).toBe('disaggregated');
  });

  it('names its local decisions with route kinds (what logs and metering record)', () => {
    expect(PREFILL_DECISIONS.localShort).toBe(ROUTE_KINDS.localPrefillShort);
    expect(PREFILL_DECISIONS.localQueue).toBe(ROUTE_KINDS.localPrefillQueue);
    expect(PREFILL_DECISIONS.disaggregated).toBe(ROUTE_KINDS.disaggregated);
  });
});
