/**
 * The overload guard's decisions on plain data: a queue source standing for the pool directory's
 * engine readings, a real config. Serve within budget, fall back only when it is faster, serve
 * anyway while a lower tier holds capacity, shed with a 429 otherwise, fair share within a tier,
 * FIFO pools protecting better tiers, and the counts a placement holds until released.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { TierOverloadedError } from '../../lambda/core/errors.ts';
import { OverloadGuard } from '../../lambda/core/overload-guard.ts';
import type { PoolQueue } from '../../lambda/core/backend-ports.ts';

const M = 'm';

function config(priorityFallbackPool = 'gpu') {
  return parseConfig({
    pools: { gpu: { protocol: 'openai', endpoints: ['http://127.0.0.1:1'] }, spare: { protocol: 'openai', endpoints: ['http://127.0.0.1:2'] } },
    models: { [M]: { pools: ['gpu', 'spare'] } },
    tiers: {
      // budgets: priority 200 ms (half of 400), default 1000 ms, flex none (no SLO)
      priority: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 400, tpotMs: 50 }, fallback: 'default' },
      default: { route: { mode: 'aggregated', pool: priorityFallbackPool }, slo: { ttftMs: 2000, tpotMs: 100 } },
      flex: { route: { mode: 'aggregated', pool: 'gpu' } },
    },
  });
}

type Queues = Record<string, Partial<PoolQueue>>;

function guard(queues: Queues, cfg = config()) {
  const source = {
    queue: (pool: string): PoolQueue => ({ endpoints: 1, waiting: 0, requests: 0, capacity: undefined, completionsPerSecond: 10, honoursPriority: true, ...queues[pool] }),
  };
  return new OverloadGuard(cfg, source);
}

const ask = (tier: 'priority' | 'default' | 'flex', tenantId = 'acme', tokens = 100) => ({ tier, model: M, tenantId, tokens });

describe('OverloadGuard', () => {
  it('serves every tier when no pool has a reading, and when the wait is within budget', () => {
    expect(guard({ gpu: { endpoints: 0, waiting: 50 } }).place(ask('default')).tier).toBe('default');
    // 4 waiting at 10/s: (4 + 1) / 10 = 500 ms, within default's 1000 ms
    const placed = guard({ gpu: { waiting: 4 } }).place(ask('default'));
    expect(placed).toMatchObject({ tier: 'default', waitMs: 500 });
    expect(placed.yieldedFrom).toBeUndefined();
  });

  it('sheds a lower-tier request over its budget with a 429 that says when to retry, when nothing lower holds capacity', () => {
    // 19 waiting at 10/s: 2000 ms, over default's 1000 ms budget; retry after the 1000 ms excess
    let thrown: unknown;
    try {
      guard({ gpu: { waiting: 19 } }).place(ask('default'));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TierOverloadedError);
    const err = thrown as TierOverloadedError;
    expect(err.statusCode).toBe(429);
    expect(err.retryAfterMs).toBe(1000);
    expect(err.headers).toEqual({ 'retry-after': '1', 'retry-after-ms': '1000', 'x-should-retry': 'true' });
    expect(err.toJSON()).toEqual({
      error: {
        message: "Resource unavailable: the 'default' service tier is at capacity (estimated queue 2.0 s, over its 1.0 s bound). Please retry in 1s, or use a higher service_tier.",
        type: 'resource_unavailable',
        param: null,
        code: 'resource_unavailable',
      },
    });
  });

  it('serves a request over budget while a lower tier holds capacity on its pool (the lower tier yields)', () => {
    const g = guard({ gpu: { waiting: 19 } });
    // flex has no SLO: it is always placed, and then holds capacity on gpu
    const flex = g.place(ask('flex'));
    expect(g.place(ask('default')).tier).toBe('default');
    flex.release();
    expect(() => g.place(ask('default'))).toThrow(TierOverloadedError);
  });

  it('never sheds a priority request over budget while requests of unknown tier wait on its pool', () => {
    // FIFO pool: every one of the 9 waiting requests is ahead of it: 1000 ms > 200 ms; none is this instance's
    const g = guard({ gpu: { waiting: 9, honoursPriority: false } });
    expect(g.place(ask('priority')).tier).toBe('priority');
  });

  it('moves a request to its fallback tier only when that route is faster and within its own budget', () => {
    const faster = guard({ gpu: { waiting: 9, honoursPriority: false }, spare: { waiting: 0 } }, config('spare'));
    const moved = faster.place(ask('priority'));
    expect(moved).toMatchObject({ tier: 'default', yieldedFrom: 'priority', waitMs: 0 });
    // The same pool: default waits at least as long as priority there, so it stays at priority.
    const samePool = guard({ gpu: { waiting: 9, honoursPriority: false } });
    expect(samePool.place(ask('priority')).tier).toBe('priority');
  });

  it('an engine that schedules by priority puts only better or equal pending requests ahead of a priority request', () => {
    const g = guard({ gpu: { waiting: 30 } });
    // 30 waiting, none of them this instance's: foreign requests have engine priority 0, behind priority (−10): (0 + 1) / 10
    expect(g.place(ask('priority')).waitMs).toBe(100);
    // this instance's pending priority request is ahead of the next one
    expect(g.place(ask('priority')).waitMs).toBe(200);
  });

  it('on a FIFO pool a lower tier gets no more queueing than a better tier sharing it', () => {
    // 4 waiting at 10/s = 500 ms: within default's own 1000 ms, over priority's 200 ms, so default is shed on a FIFO pool
    expect(guard({ gpu: { waiting: 4 } }).place(ask('default')).tier).toBe('default');
    expect(() => guard({ gpu: { waiting: 4, honoursPriority: false } }).place(ask('default'))).toThrow(TierOverloadedError);
  });

  it('within a tier, a tenant under its fair share of in-flight tokens is served while a bursting one is shed', () => {
    const queue = { waiting: 0 };
    const g = new OverloadGuard(config(), { queue: () => ({ endpoints: 1, waiting: queue.waiting, requests: 0, capacity: undefined, completionsPerSecond: 10, honoursPriority: true }) });
    const held = Array.from({ length: 4 }, () => g.place(ask('default', 'burst', 1000)));
    queue.waiting = 14; // (14 + 1) / 10 = 1.5 s: over the 1000 ms budget, within twice it
    expect(() => g.place(ask('default', 'burst', 1000))).toThrow(TierOverloadedError);
    expect(g.place(ask('default', 'light', 1000)).tier).toBe('default');
    // over twice the budget, even a light tenant is shed
    queue.waiting = 25;
    expect(() => g.place(ask('default', 'light', 100))).toThrow(TierOverloadedError);
    // a tenant alone in its tier has no share to claim
    held.forEach((p) => p.release());
    queue.waiting = 14;
    expect(() => guard({ gpu: { waiting: 14 } }).place(ask('default', 'alone'))).toThrow(TierOverloadedError);
  });

  it('counts its own requests beyond the engines\' capacity as waiting, however stale the reading', () => {
    // The reading says nothing waits (it predates this burst); the engine has 2 slots.
    const g = guard({ gpu: { waiting: 0, capacity: 2 } });
    const placed = Array.from({ length: 12 }, () => g.place(ask('default')));
    // 12 in flight, 2 running: 10 wait, all ahead: (10 + 1) / 10 = 1.1 s, over the 1000 ms budget
    expect(() => g.place(ask('default'))).toThrow(TierOverloadedError);
    placed[0]!.release();
    expect(g.place(ask('default')).waitMs).toBe(1000);
  });

  it('a placement counts until its first token (pending) and until released (in flight), exactly once', () => {
    const g = guard({ gpu: { waiting: 30 } });
    const first = g.place(ask('priority'));
    expect(g.place(ask('priority')).waitMs).toBe(200);
    first.firstToken();
    first.firstToken();
    // one pending priority request left (the second placement)
    expect(g.place(ask('priority')).waitMs).toBe(200);
    first.release();
    first.release();
    const flex = g.place(ask('flex'));
    flex.release();
    // after release, no lower tier holds gpu: default over budget (31 waiting ahead: 3.2 s) is shed
    expect(() => g.place(ask('default'))).toThrow(TierOverloadedError);
  });
});
