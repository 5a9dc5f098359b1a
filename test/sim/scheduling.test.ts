/**
 * Batch slots, the scheduling policy of the waiting queue, vLLM's refusal of a priority under
 * fcfs, `GET /metrics`, `stats().abortedCalls` and the scheduling flags of `splitserve sim`, all
 * over real HTTP against started simulators.
 *
 * Timing: gpu-aggregated at speedup 10 decodes one token every ≈ 0.73 ms, so a 20-token waiter
 * lasts ≈ 15 ms and a 5,000-token holder ≈ 3.6 s. Holders are never waited out: they are aborted
 * once the scenario is set up, which hands their slot to the head of the queue.
 */
import { describe, expect, it, vi } from 'vitest';
import { parseEngineLoad } from '../../lambda/backends/engine-load.ts';
import { simCommand } from '../../bin/commands/sim.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle, SimulatorOptions } from '../../sim/index.ts';
import { withStderr } from '../helpers/stderr.ts';
import { chatBody, post, waitFor } from './helpers.ts';

const CHAT = '/v1/chat/completions';

async function withSim(options: Partial<SimulatorOptions>, run: (sim: SimulatorHandle) => Promise<void>): Promise<void> {
  const sim = await startSimulator({ profile: 'gpu-aggregated', speedup: 10, seed: 21, ...options });
  try {
    await run(sim);
  } finally {
    await sim.close();
  }
}

/** A long request holding a batch slot until `stop()` aborts it. */
interface Holder {
  stop(): Promise<void>;
}

/** Starts a long request on `url` and waits until the simulator shows `active` slots in use. */
async function hold(sim: SimulatorHandle, url: string, id: string, active: number): Promise<Holder> {
  const controller = new AbortController();
  const done = post(`${url}${CHAT}`, chatBody({ max_tokens: 5000 }), { 'x-request-id': id }, controller.signal)
    .then((r) => r.text())
    .then(() => 'finished' as const, () => 'aborted' as const);
  expect(await waitFor(() => sim.stats().active === active, 2_000)).toBe(true);
  return {
    stop: async () => {
      controller.abort();
      // The holder must not have finished on its own: the scenario relied on it holding the slot.
      expect(await done).toBe('aborted');
    },
  };
}

/** A request sent while the slots are full, with the order its answer came in. */
interface Queued {
  readonly label: string;
  readonly reply: Promise<{ status: number; id: unknown }>;
}

/**
 * Sends one request per label, each with its priority (omitted when undefined), waiting until
 * the simulator shows it queued before sending the next, so the arrival order is certain.
 * `finished` receives the labels in the order their answers arrived.
 */
async function enqueue(
  sim: SimulatorHandle,
  entries: ReadonlyArray<readonly [label: string, priority: number | undefined]>,
  finished: string[],
  url = sim.url,
): Promise<Queued[]> {
  const out: Queued[] = [];
  for (const [label, priority] of entries) {
    const before = sim.stats().queued;
    const body = chatBody({ max_tokens: 20, ...(priority !== undefined ? { priority } : {}) });
    const reply = post(`${url}${CHAT}`, body, { 'x-request-id': label }).then(async (r) => {
      const json = (await r.json()) as { id?: unknown };
      finished.push(label);
      return { status: r.status, id: json.id };
    });
    out.push({ label, reply });
    expect(await waitFor(() => sim.stats().queued === before + 1, 2_000)).toBe(true);
  }
  return out;
}

/** Runs the 1-slot scenario: a holder, then the entries queued behind it; returns the completion order. */
async function completionOrder(
  options: Partial<SimulatorOptions>,
  entries: ReadonlyArray<readonly [string, number | undefined]>,
): Promise<string[]> {
  const finished: string[] = [];
  await withSim({ slots: 1, ...options }, async (sim) => {
    const holder = await hold(sim, sim.url, 'holder', 1);
    const queued = await enqueue(sim, entries, finished);
    expect(sim.stats()).toMatchObject({ active: 1, queued: entries.length });
    await holder.stop();
    const replies = await Promise.all(queued.map((q) => q.reply));
    for (const [i, r] of replies.entries()) expect(r).toEqual({ status: 200, id: `chatcmpl-${queued[i]!.label}` });
    expect(sim.stats()).toMatchObject({ active: 0, queued: 0, completed: entries.length, maxActive: 1, aborted: 1 });
  });
  return finished;
}

const refusal = (n: number): string => `Got priority ${n} but Priority scheduling is not enabled.`;

async function metricsOf(sim: SimulatorHandle): Promise<{ text: string; contentType: string | null }> {
  const res = await fetch(`${sim.url}/metrics`);
  expect(res.status).toBe(200);
  return { text: await res.text(), contentType: res.headers.get('content-type') };
}

/** The value of a metric's single series, read from the raw text. */
function rawValue(text: string, name: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`));
  expect(lines).toHaveLength(1);
  return Number(lines[0]!.slice(lines[0]!.lastIndexOf(' ') + 1));
}

describe('scheduling policy of the waiting queue', () => {
  it('priority: the lowest priority value is admitted first (5, -10, 0 → -10, 0, 5)', async () => {
    expect(await completionOrder({ schedulingPolicy: 'priority' }, [['p5', 5], ['p-10', -10], ['p0', 0]])).toEqual(['p-10', 'p0', 'p5']);
  });

  it('priority: first come first served among equal values, an absent priority counting as 0', async () => {
    expect(
      await completionOrder({ schedulingPolicy: 'priority' }, [['a2', 2], ['b0', undefined], ['c2', 2], ['d0', 0], ['e-1', -1]]),
    ).toEqual(['e-1', 'b0', 'd0', 'a2', 'c2']);
  });

  it('fcfs: with priority 0 on all, completes in arrival order', async () => {
    expect(await completionOrder({ schedulingPolicy: 'fcfs' }, [['first', 0], ['second', 0], ['third', 0]])).toEqual(['first', 'second', 'third']);
  });

  it('fcfs is the default and ignores priority order (high-first, non-zero priorities): arrival order', async () => {
    expect(await completionOrder({ priorityOrder: 'high-first' }, [['p-10', -10], ['p0', 0], ['p5', 5]])).toEqual(['p-10', 'p0', 'p5']);
  });

  it('priority with priorityOrder high-first (SGLang): 5 before 0 before -10', async () => {
    expect(
      await completionOrder({ schedulingPolicy: 'priority', priorityOrder: 'high-first' }, [['p-10', -10], ['p0', 0], ['p5', 5]]),
    ).toEqual(['p5', 'p0', 'p-10']);
  });

  it('priority: a waiter aborted while queued leaves the queue and the others keep their order', async () => {
    await withSim({ slots: 1, schedulingPolicy: 'priority' }, async (sim) => {
      const finished: string[] = [];
      const holder = await hold(sim, sim.url, 'holder', 1);
      const queued = await enqueue(sim, [['p3', 3], ['p1', 1]], finished);
      const gone = new AbortController();
      const leaving = post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 20, priority: -5 }), { 'x-request-id': 'p-5' }, gone.signal).catch(() => 'aborted');
      expect(await waitFor(() => sim.stats().queued === 3)).toBe(true);
      gone.abort();
      expect(await leaving).toBe('aborted');
      expect(await waitFor(() => sim.stats().queued === 2)).toBe(true);
      queued.push(...(await enqueue(sim, [['p2', 2]], finished)));
      await holder.stop();
      await Promise.all(queued.map((q) => q.reply));
      expect(finished).toEqual(['p1', 'p2', 'p3']);
      expect(sim.stats()).toMatchObject({ completed: 3, aborted: 2, queued: 0, active: 0 });
      expect(sim.stats().abortedCalls.map((a) => a.requestId)).toEqual(['p-5', 'holder']);
    });
  });
});

describe("vLLM's refusal of a priority under fcfs", () => {
  it('a non-streamed request with priority ≠ 0 gets a 400 with the exact message, counted failed, taking no slot', async () => {
    await withSim({ slots: 1 }, async (sim) => {
      const res = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 4, priority: 7 }), { 'x-request-id': 'refused-7' });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-request-id')).toBe('refused-7');
      expect(await res.json()).toEqual({ error: { message: refusal(7), type: 'invalid_request_error', param: null, code: null } });
      const neg = await post(`${sim.url}/v1/completions`, { prompt: 'wafer', max_tokens: 4, priority: -3 });
      expect(neg.status).toBe(400);
      expect(((await neg.json()) as { error: { message: string } }).error.message).toBe(refusal(-3));
      expect(sim.stats()).toMatchObject({ calls: 2, completed: 0, failed: 2, maxActive: 0, queuedTotal: 0, active: 0, aborted: 0 });
      expect(sim.stats().byKind.aggregated).toBe(0);
    });
  });

  it('a streamed request with priority ≠ 0 gets 200, one error event and [DONE], exactly', async () => {
    await withSim({ slots: 1 }, async (sim) => {
      const res = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 4, stream: true, priority: 1 }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const text = await res.text();
      expect(text).toBe(
        `data: {"error":{"message":"Got priority 1 but Priority scheduling is not enabled.","type":"BadRequestError","param":null,"code":400}}\n\n` +
          'data: [DONE]\n\n',
      );
      expect(text.split('\n\n').filter((l) => l !== '')).toEqual([
        `data: ${JSON.stringify({ error: { message: refusal(1), type: 'BadRequestError', param: null, code: 400 } })}`,
        'data: [DONE]',
      ]);
      expect(sim.stats()).toMatchObject({ calls: 1, completed: 0, failed: 1, maxActive: 0, queuedTotal: 0, aborted: 0 });
      expect(sim.stats().abortedCalls).toEqual([]);
    });
  });

  it('is refused at once even when every slot is busy (it never waits for one)', async () => {
    await withSim({ slots: 1 }, async (sim) => {
      const holder = await hold(sim, sim.url, 'holder', 1);
      try {
        const plain = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 4, priority: 2 }));
        expect(plain.status).toBe(400);
        await plain.json();
        const streamed = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 4, stream: true, priority: 2 }));
        expect(await streamed.text()).toContain(refusal(2));
        expect(sim.stats()).toMatchObject({ active: 1, queued: 0, queuedTotal: 0, failed: 2, completed: 0 });
      } finally {
        await holder.stop();
      }
    });
  });

  it('priority 0 is served normally under fcfs, streamed or not', async () => {
    await withSim({}, async (sim) => {
      const plain = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority: 0 }));
      expect(plain.status).toBe(200);
      expect(((await plain.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3);
      const streamed = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority: 0, stream: true }));
      expect(streamed.status).toBe(200);
      const text = await streamed.text();
      expect(text).not.toContain('error');
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(sim.stats()).toMatchObject({ completed: 2, failed: 0, maxActive: 1 });
    });
  });

  it('a high-first (SGLang) simulator under fcfs ignores a non-zero priority', async () => {
    await withSim({ priorityOrder: 'high-first' }, async (sim) => {
      const plain = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority: 9 }));
      expect(plain.status).toBe(200);
      expect(((await plain.json()) as { object: string }).object).toBe('chat.completion');
      const streamed = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority: -4, stream: true }));
      expect(streamed.status).toBe(200);
      const text = await streamed.text();
      expect(text).not.toContain('Priority scheduling');
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(sim.stats()).toMatchObject({ completed: 2, failed: 0 });
    });
  });

  it('the priority policy accepts a non-zero priority (low-first and high-first)', async () => {
    for (const priorityOrder of ['low-first', 'high-first'] as const) {
      await withSim({ schedulingPolicy: 'priority', priorityOrder }, async (sim) => {
        const res = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority: 4 }));
        expect(res.status).toBe(200);
        await res.json();
        expect(sim.stats()).toMatchObject({ completed: 1, failed: 0 });
      });
    }
  });

  it('a non-integer priority is a 400 under every policy, streamed or not', async () => {
    const cases: Array<Partial<SimulatorOptions>> = [{}, { priorityOrder: 'high-first' }, { schedulingPolicy: 'priority' }];
    for (const options of cases) {
      await withSim(options, async (sim) => {
        for (const priority of [1.5, '3', true]) {
          for (const stream of [false, true]) {
            const res = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority, stream }));
            expect(res.status, `${JSON.stringify(options)} priority ${JSON.stringify(priority)} stream ${stream}`).toBe(400);
            const body = (await res.json()) as { error: { message: string; type: string } };
            expect(body.error).toMatchObject({ message: 'priority must be an integer', type: 'invalid_request_error' });
          }
        }
        expect(sim.stats()).toMatchObject({ calls: 6, failed: 6, completed: 0, maxActive: 0 });
      });
    }
  });
});

describe('GET /metrics', () => {
  it('reports 1 running and 2 waiting, then request_success_total = stats().completed', async () => {
    await withSim({ slots: 1 }, async (sim) => {
      const finished: string[] = [];
      const holder = await hold(sim, sim.url, 'holder', 1);
      const queued = await enqueue(sim, [['w1', undefined], ['w2', undefined]], finished);

      const busy = await metricsOf(sim);
      expect(busy.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      const load = parseEngineLoad(busy.text);
      expect(load).toEqual({ running: 1, waiting: 2, kvUsage: 1, completed: 0 });
      expect(busy.text).toContain('# TYPE vllm:num_requests_running gauge');
      expect(busy.text).toContain('# TYPE vllm:request_success_total counter');
      expect(rawValue(busy.text, 'vllm:num_preemptions_total')).toBe(0);
      expect(busy.text).toMatch(/^vllm:num_requests_waiting\{[^}]*model_name="llama-3\.1-8b"[^}]*\} 2(\.0+)?$/m);

      await holder.stop();
      await Promise.all(queued.map((q) => q.reply));
      // A refused call is not a success either.
      await (await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 3, priority: 1 }))).json();
      const idle = await metricsOf(sim);
      const after = parseEngineLoad(idle.text);
      expect(sim.stats().completed).toBe(2);
      expect(after).toEqual({ running: 0, waiting: 0, kvUsage: 0, completed: sim.stats().completed });
      expect(rawValue(idle.text, 'vllm:request_success_total')).toBe(sim.stats().completed);
    });
  });

  it('kv_cache_usage_perc is running / slots', async () => {
    await withSim({ slots: 4 }, async (sim) => {
      const holders: Holder[] = [];
      try {
        expect(parseEngineLoad((await metricsOf(sim)).text)?.kvUsage).toBe(0);
        for (let n = 1; n <= 4; n++) {
          holders.push(await hold(sim, sim.url, `h${n}`, n));
          const { text } = await metricsOf(sim);
          const load = parseEngineLoad(text);
          expect(load?.running).toBe(n);
          expect(load?.kvUsage).toBeCloseTo(n / 4, 4);
          expect(rawValue(text, 'vllm:kv_cache_usage_perc')).toBeCloseTo(n / 4, 4);
        }
      } finally {
        for (const h of holders) await h.stop();
      }
      expect(await waitFor(() => sim.stats().active === 0)).toBe(true);
      expect(parseEngineLoad((await metricsOf(sim)).text)).toMatchObject({ running: 0, kvUsage: 0 });
    });
  });

  it('with 3 slots, one sequence is a third of the cache', async () => {
    await withSim({ slots: 3 }, async (sim) => {
      const holder = await hold(sim, sim.url, 'third', 1);
      try {
        expect(rawValue((await metricsOf(sim)).text, 'vllm:kv_cache_usage_perc')).toBeCloseTo(1 / 3, 4);
      } finally {
        await holder.stop();
      }
    });
  });
});

describe('stats().abortedCalls', () => {
  it('records a streamed call whose client aborts after the first bytes, within 50 ms', async () => {
    await withSim({}, async (sim) => {
      const controller = new AbortController();
      const res = await post(`${sim.url}${CHAT}`, chatBody({ stream: true, max_tokens: 5000 }), { 'x-request-id': 'stream-abort-1' }, controller.signal);
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      expect(first.value!.byteLength).toBeGreaterThan(0);
      expect(sim.stats().abortedCalls).toEqual([]);

      const before = Date.now();
      controller.abort();
      const after = Date.now();
      await reader.read().catch(() => undefined);
      expect(await waitFor(() => sim.stats().abortedCalls.length > 0, 1_000)).toBe(true);
      const seen = Date.now();
      const calls = sim.stats().abortedCalls;
      expect(calls).toHaveLength(1);
      expect(calls[0]!.requestId).toBe('stream-abort-1');
      expect(calls[0]!.at).toBeGreaterThanOrEqual(before);
      expect(calls[0]!.at - after).toBeLessThanOrEqual(50);
      expect(seen - after).toBeLessThanOrEqual(50);
      expect(sim.stats()).toMatchObject({ aborted: 1, completed: 0, active: 0 });
    });
  });

  it('records a waiter aborted while queued, which leaves the queue; completed calls are not recorded', async () => {
    await withSim({ slots: 1 }, async (sim) => {
      const ok = await post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 2 }), { 'x-request-id': 'served' });
      await ok.json();
      const holder = await hold(sim, sim.url, 'holder', 1);
      const plain = new AbortController();
      const streamed = new AbortController();
      const p = post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 2 }), { 'x-request-id': 'queued-plain' }, plain.signal).catch(() => 'aborted');
      expect(await waitFor(() => sim.stats().queued === 1)).toBe(true);
      const s = post(`${sim.url}${CHAT}`, chatBody({ max_tokens: 2, stream: true }), { 'x-request-id': 'queued-stream' }, streamed.signal)
        .then((r) => r.text())
        .catch(() => 'aborted');
      expect(await waitFor(() => sim.stats().queued === 2)).toBe(true);

      const before = Date.now();
      plain.abort();
      expect(await waitFor(() => sim.stats().queued === 1, 1_000)).toBe(true);
      expect(sim.stats().abortedCalls.map((a) => a.requestId)).toEqual(['queued-plain']);
      expect(sim.stats().abortedCalls[0]!.at - before).toBeLessThanOrEqual(50);

      streamed.abort();
      expect(await waitFor(() => sim.stats().queued === 0, 1_000)).toBe(true);
      expect(sim.stats().abortedCalls.map((a) => a.requestId)).toEqual(['queued-plain', 'queued-stream']);
      expect(sim.stats()).toMatchObject({ active: 1, aborted: 2, completed: 1 });

      await holder.stop();
      expect(await Promise.all([p, s])).toEqual(['aborted', 'aborted']);
      expect(await waitFor(() => sim.stats().active === 0)).toBe(true);
      expect(sim.stats().abortedCalls.map((a) => a.requestId)).toEqual(['queued-plain', 'queued-stream', 'holder']);
      expect(sim.stats()).toMatchObject({ aborted: 3, completed: 1, queued: 0 });
    });
  });
});

/**
 * Runs `simCommand`, and, if it is still running after `ms` (it accepted the arguments and
 * serves), stops it through the SIGTERM listener it installed and returns 'served'.
 */
async function runSimCommand(args: string[], ms = 2_000): Promise<number | 'served'> {
  const before = new Set(process.listeners('SIGTERM'));
  const run = simCommand(args);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    const first = await Promise.race([run, timeout]);
    if (first !== 'timeout') return first;
  } finally {
    clearTimeout(timer);
  }
  for (const listener of process.listeners('SIGTERM')) if (!before.has(listener)) listener('SIGTERM');
  await run;
  return 'served';
}

describe('splitserve sim scheduling flags', () => {
  it('refuses --slots 0, --scheduling-policy lifo and --priority-order up with exit code 2, naming the flag', async () => {
    const cases: Array<[string[], string]> = [
      [['--slots', '0'], 'invalid --slots "0"'],
      [['--slots=-1'], 'invalid --slots "-1"'],
      [['--slots', '1.5'], 'invalid --slots "1.5"'],
      [['--slots', 'many'], 'invalid --slots "many"'],
      [['--scheduling-policy', 'lifo'], 'invalid --scheduling-policy "lifo"'],
      [['--priority-order', 'up'], 'invalid --priority-order "up"'],
    ];
    for (const [args, message] of cases) {
      const { result, written } = await withStderr(() => runSimCommand(['--port', '0', ...args]));
      expect(result, args.join(' ')).toBe(2);
      expect(written).toContain(`splitserve sim: ${message}`);
    }
  });

  it('serves with --slots 1 --scheduling-policy priority --priority-order high-first', async () => {
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(String(chunk));
      return true;
    });
    const before = new Set(process.listeners('SIGTERM'));
    const run = simCommand(['--port', '0', '--speedup', '10', '--slots', '1', '--scheduling-policy', 'priority', '--priority-order', 'high-first']);
    let stopped = false;
    const stop = async (): Promise<number> => {
      if (!stopped) {
        stopped = true;
        for (const listener of process.listeners('SIGTERM')) if (!before.has(listener)) listener('SIGTERM');
      }
      return run;
    };
    try {
      expect(await waitFor(() => chunks.join('').includes('\n'), 3_000)).toBe(true);
      const m = /^splitserve sim gpu-aggregated listening on (http:\/\/127\.0\.0\.1:\d+)\n$/.exec(chunks.join(''));
      expect(m).not.toBeNull();
      const url = m![1]!;
      // The handle is not exposed: read the counters over HTTP.
      const stats = async (): Promise<{ active: number; queued: number }> => (await (await fetch(`${url}/sim/stats`)).json()) as { active: number; queued: number };
      let snapshot = { active: 0, queued: 0 };
      const poll = async (check: (s: typeof snapshot) => boolean): Promise<boolean> => {
        const deadline = Date.now() + 2_000;
        for (;;) {
          snapshot = await stats();
          if (check(snapshot)) return true;
          if (Date.now() > deadline) return false;
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const controller = new AbortController();
      const held = post(`${url}${CHAT}`, chatBody({ max_tokens: 5000 }), {}, controller.signal).then((r) => r.text()).catch(() => 'aborted');
      expect(await poll((s) => s.active === 1)).toBe(true);
      const finished: string[] = [];
      const send = (label: string, priority: number): Promise<number> =>
        post(`${url}${CHAT}`, chatBody({ max_tokens: 20, priority })).then(async (r) => {
          await r.json();
          finished.push(label);
          return r.status;
        });
      const low = send('p0', 0);
      expect(await poll((s) => s.queued === 1)).toBe(true);
      const high = send('p5', 5);
      expect(await poll((s) => s.queued === 2)).toBe(true);
      const load = parseEngineLoad(await (await fetch(`${url}/metrics`)).text());
      expect(load).toMatchObject({ running: 1, waiting: 2, kvUsage: 1 });
      controller.abort();
      expect(await held).toBe('aborted');
      expect(await Promise.all([low, high])).toEqual([200, 200]);
      expect(finished).toEqual(['p5', 'p0']);
    } finally {
      spy.mockRestore();
      expect(await stop()).toBe(0);
    }
  });
});
