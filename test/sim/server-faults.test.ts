import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle, SimulatorOptions } from '../../sim/index.ts';
import { chatBody, post, sseEvents, waitFor } from './helpers.ts';
import type { Chunk } from './helpers.ts';

async function withSim(options: Partial<SimulatorOptions>, run: (sim: SimulatorHandle) => Promise<void>): Promise<void> {
  const sim = await startSimulator({ profile: 'cerebras-decode', speedup: 1000, seed: 5, ...options });
  try {
    await run(sim);
  } finally {
    await sim.close();
  }
}

const chat = (sim: SimulatorHandle, extra: Record<string, unknown> = {}): Promise<Response> =>
  post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 2, ...extra }));

describe('scripted faults', () => {
  it('failNth fails exactly the Nth completion call with an OpenAI error body', async () => {
    await withSim({ faults: { failNth: [2, 4] } }, async (sim) => {
      await fetch(`${sim.url}/health`); // not a completion call: not counted
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await chat(sim);
        statuses.push(res.status);
        const body = (await res.json()) as Record<string, any>;
        if (res.status === 500) expect(body['error']).toMatchObject({ type: 'server_error', param: null });
      }
      expect(statuses).toEqual([200, 500, 200, 500, 200]);
      expect(sim.stats()).toMatchObject({ calls: 5, failed: 2, completed: 3 });
    });
  });

  it('errorRate fails the same calls under the same seed, with errorStatus', async () => {
    const run = async (): Promise<number[]> => {
      const out: number[] = [];
      await withSim({ seed: 99, faults: { errorRate: 0.5, errorStatus: 503 } }, async (sim) => {
        for (let i = 0; i < 16; i++) {
          const res = await chat(sim);
          await res.arrayBuffer();
          out.push(res.status);
        }
      });
      return out;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain(503);
    expect(first).toContain(200);
    expect(first.every((s) => s === 200 || s === 503)).toBe(true);
  });

  it('stallMs delays the first byte by real milliseconds', async () => {
    await withSim({ faults: { stallMs: 150 } }, async (sim) => {
      const t0 = performance.now();
      const res = await chat(sim, { stream: true });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
      await res.text();
    });
  });

  it('dropAfterTokens cuts the socket after N streamed tokens', async () => {
    await withSim({ faults: { dropAfterTokens: 3 } }, async (sim) => {
      const res = await chat(sim, { stream: true, max_tokens: 10 });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      let failed = false;
      for (;;) {
        try {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        } catch {
          failed = true;
          break;
        }
      }
      expect(failed).toBe(true);
      expect(text).not.toContain('[DONE]');
      const chunks = sseEvents(text) as Chunk[];
      expect(chunks.filter((c) => c.choices[0]?.delta?.content !== undefined && !c.choices[0]?.delta?.role)).toHaveLength(3);
      expect(sim.stats()).toMatchObject({ dropped: 1, aborted: 0, completed: 0 });
    });
  });

  it('reset destroys the socket before any answer, only on the calls onCalls lists', async () => {
    await withSim({ faults: { reset: true, onCalls: [2] } }, async (sim) => {
      expect((await chat(sim)).status).toBe(200);
      await expect(chat(sim)).rejects.toThrow();
      expect((await chat(sim)).status).toBe(200);
      expect(sim.stats()).toMatchObject({ calls: 3, reset: 1, completed: 2 });
    });
  });

  it('an injected 429 carries retry-after and retry-after-ms', async () => {
    await withSim({ faults: { failNth: [1], errorStatus: 429, retryAfterMs: 1500 } }, async (sim) => {
      const res = await chat(sim);
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(res.headers.get('retry-after-ms')).toBe('1500');
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    });
  });

  it('stallAfterTokens goes silent mid-body with the socket open, stream or not, until the client leaves', async () => {
    await withSim({ faults: { stallAfterTokens: 2 } }, async (sim) => {
      for (const stream of [true, false]) {
        const controller = new AbortController();
        const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ stream, max_tokens: 10 }), {}, controller.signal);
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        const first = new TextDecoder().decode((await reader.read()).value);
        if (stream) expect(first).toContain('"delta"');
        else expect(() => JSON.parse(first) as unknown).toThrow();
        const next = await Promise.race([reader.read().then(() => 'data'), new Promise((r) => setTimeout(r, 150, 'silent'))]);
        expect(next).toBe('silent');
        controller.abort();
      }
      expect(await waitFor(() => sim.stats().aborted === 2 && sim.stats().active === 0)).toBe(true);
      expect(sim.stats()).toMatchObject({ stalled: 2, completed: 0 });
    });
  });

  it('invalidBody sends a JSON answer that is not JSON, and a stream with a garbage data: event', async () => {
    await withSim({ faults: { invalidBody: true } }, async (sim) => {
      const plain = await chat(sim, { max_tokens: 3 });
      expect(plain.status).toBe(200);
      const text = await plain.text();
      expect(() => JSON.parse(text) as unknown).toThrow();
      const streamed = await (await chat(sim, { stream: true, max_tokens: 3 })).text();
      const events = streamed.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
      const garbage = events.filter((d) => {
        try {
          JSON.parse(d);
          return false;
        } catch {
          return d !== '[DONE]';
        }
      });
      expect(garbage).toHaveLength(1);
      expect(events.at(-1)).toBe('[DONE]');
      expect(sim.stats().garbled).toBe(2);
    });
  });

  it('trickleMs paces every token at real milliseconds, whatever the speedup', async () => {
    await withSim({ faults: { trickleMs: 40 } }, async (sim) => {
      const t0 = performance.now();
      await (await chat(sim, { max_tokens: 4 })).json();
      expect(performance.now() - t0).toBeGreaterThanOrEqual(4 * 40 - 5);
    });
  });

  it('refuse closes the port until a plan without it is set, then listens again on the same port', async () => {
    await withSim({}, async (sim) => {
      expect((await chat(sim)).status).toBe(200);
      sim.setFaults({ refuse: true });
      const refused = await chat(sim).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect(((refused as Error).cause as { code?: string })?.code).toBe('ECONNREFUSED');
      sim.setFaults({});
      expect((await chat(sim)).status).toBe(200);
      expect(sim.stats()).toMatchObject({ calls: 2, completed: 2 });
      expect((await post(`${sim.url}/sim/faults`, { refuse: true })).status).toBe(400);
    });
  });

  it('unhealthy turns /health to 503, at runtime through setFaults and POST /sim/faults', async () => {
    await withSim({}, async (sim) => {
      sim.setFaults({ unhealthy: true });
      expect((await fetch(`${sim.url}/health`)).status).toBe(503);
      const set = await post(`${sim.url}/sim/faults`, { unhealthy: false, failNth: [1] });
      expect(set.status).toBe(200);
      expect((await fetch(`${sim.url}/health`)).status).toBe(200);
      expect((await chat(sim)).status).toBe(500);
      expect((await post(`${sim.url}/sim/faults`, { failNth: 'x' })).status).toBe(400);
      expect((await post(`${sim.url}/sim/faults`, { nope: true })).status).toBe(400);
      expect((await post(`${sim.url}/sim/faults`, { reset: 'yes' })).status).toBe(400);
      expect((await post(`${sim.url}/sim/faults`, { onCalls: [0] })).status).toBe(400);
      expect((await post(`${sim.url}/sim/faults`, { trickleMs: 5, stallAfterTokens: 2, invalidBody: true, retryAfterMs: 10, onCalls: [3] })).status).toBe(200);
    });
  });
});

describe('POST /sim/faults refusals', () => {
  it('answers a bad plan with one OpenAI-shaped error naming the field, not a validator dump', async () => {
    await withSim({}, async (sim) => {
      const cases: Array<[unknown, string | null, string]> = [
        [{ failNth: 'x' }, 'failNth', "Invalid 'failNth': "],
        [{ onCalls: [0] }, 'onCalls.0', "Invalid 'onCalls.0': "],
        [{ nope: true }, null, 'Invalid faults: Unrecognized key'],
        [{ refuse: true }, 'refuse', "Invalid 'refuse': "],
        [[1, 2], null, 'faults must be a JSON object'],
      ];
      for (const [body, param, start] of cases) {
        const res = await post(`${sim.url}/sim/faults`, body);
        expect(res.status).toBe(400);
        const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
        expect(json.error).toMatchObject({ type: 'invalid_request_error', param, code: null });
        expect(json.error.message.slice(0, start.length)).toBe(start);
        expect(json.error.message).not.toContain('\n');
        expect(json.error.message).not.toContain('"path"');
      }
    });
  });
});

describe('load and disconnects', () => {
  it('a client that goes away is counted as aborted and frees its batch slot', async () => {
    // gpu-aggregated at speedup 1: 1,000 tokens take ≈ 7 s, far longer than the test waits.
    await withSim({ profile: 'gpu-aggregated', speedup: 1 }, async (sim) => {
      const controller = new AbortController();
      const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ stream: true, max_tokens: 1000 }), {}, controller.signal);
      const reader = res.body!.getReader();
      await reader.read();
      expect(sim.stats().active).toBe(1);
      controller.abort();
      expect(await waitFor(() => sim.stats().aborted === 1 && sim.stats().active === 0)).toBe(true);
      expect(sim.stats().completed).toBe(0);
    });
  });

  it('queues FIFO beyond max batch and never runs more than max batch at once', async () => {
    // trainium-prefill: max batch 8. As aggregated, 40 tokens at 10 ms (÷10) each ≈ 40 ms a request.
    await withSim({ profile: 'trainium-prefill', role: 'both', speedup: 10 }, async (sim) => {
      let sawQueued = false;
      const poll = setInterval(() => {
        if (sim.stats().queued > 0) sawQueued = true;
      }, 2);
      try {
        const replies = await Promise.all(Array.from({ length: 12 }, () => chat(sim, { max_tokens: 40 }).then((r) => r.json())));
        expect(replies).toHaveLength(12);
      } finally {
        clearInterval(poll);
      }
      const stats = sim.stats();
      expect(sawQueued).toBe(true);
      expect(stats.queuedTotal).toBeGreaterThan(0);
      expect(stats.maxActive).toBe(8);
      expect(stats).toMatchObject({ completed: 12, active: 0, queued: 0, aborted: 0 });
      expect(stats.byKind.aggregated).toBe(12);
    });
  });

  it('a queued client that goes away leaves the queue', async () => {
    await withSim({ profile: 'trainium-prefill', role: 'both', speedup: 1 }, async (sim) => {
      const holders = Array.from({ length: 8 }, () => new AbortController());
      const held = holders.map((c) => post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 1000 }), {}, c.signal).catch(() => undefined));
      expect(await waitFor(() => sim.stats().active === 8)).toBe(true);
      const waiter = new AbortController();
      const queued = post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 1 }), {}, waiter.signal).catch(() => undefined);
      expect(await waitFor(() => sim.stats().queued === 1)).toBe(true);
      waiter.abort();
      expect(await waitFor(() => sim.stats().queued === 0 && sim.stats().aborted === 1)).toBe(true);
      for (const c of holders) c.abort();
      await Promise.all([...held, queued]);
      expect(await waitFor(() => sim.stats().active === 0 && sim.stats().aborted === 9)).toBe(true);
    });
  });
});
