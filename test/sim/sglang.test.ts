import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { chatBody, post, sseEvents } from './helpers.ts';

let prefill: SimulatorHandle;
let decode: SimulatorHandle;
beforeAll(async () => {
  prefill = await startSimulator({ profile: 'trainium-prefill', role: 'prefill', speedup: 1000, seed: 8 });
  decode = await startSimulator({ profile: 'cerebras-decode', role: 'decode', speedup: 1000, seed: 8, bootstrapTimeoutMs: 2_000 });
});
afterAll(async () => {
  await prefill.close();
  await decode.close();
});

const pd = (room: number | number[], extra: Record<string, unknown> = {}): Record<string, unknown> =>
  chatBody({ max_tokens: 4, bootstrap_host: '127.0.0.1', bootstrap_port: prefill.port, bootstrap_room: room, ...extra });

describe('SGLang PD', () => {
  it('prefill registers the room; decode waits for it, then answers the client', async () => {
    const body = pd(4242, { stream: true, stream_options: { include_usage: true } });
    const [p, d] = await Promise.all([post(`${prefill.url}/v1/chat/completions`, body), post(`${decode.url}/v1/chat/completions`, body)]);
    expect(p.status).toBe(200);
    expect(d.status).toBe(200);
    const events = sseEvents(await d.text());
    expect(events.at(-1)).toBe('[DONE]');
    expect((events.at(-2) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(4);
    await p.text();
    expect((await fetch(`${prefill.url}/sim/bootstrap/4242`)).status).toBe(200);
    expect(prefill.stats().byKind.prefill).toBeGreaterThanOrEqual(1);
    expect(decode.stats().byKind['decode-remote']).toBeGreaterThanOrEqual(1);
  });

  it('decode sent before prefill finishes only after the prefill has run', async () => {
    const body = pd(777);
    const order: string[] = [];
    const d = post(`${decode.url}/v1/chat/completions`, body).then(async (r) => {
      order.push(`decode:${r.status}`);
      return r.json();
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(order).toEqual([]);
    expect(decode.stats().active).toBeGreaterThanOrEqual(1);
    const p = await post(`${prefill.url}/v1/chat/completions`, body);
    order.push(`prefill:${p.status}`);
    await p.json();
    await d;
    expect(order).toEqual(['prefill:200', 'decode:200']);
  });

  it('registers every room of a batch', async () => {
    const res = await post(`${prefill.url}/v1/chat/completions`, pd([11, 12]));
    await res.json();
    expect((await fetch(`${prefill.url}/sim/bootstrap/11`)).status).toBe(200);
    expect((await fetch(`${prefill.url}/sim/bootstrap/12`)).status).toBe(200);
    expect((await fetch(`${prefill.url}/sim/bootstrap/13`)).status).toBe(404);
  });

  it('a decode whose room never arrives fails after the bounded wait', async () => {
    const sim = await startSimulator({ profile: 'cerebras-decode', role: 'decode', speedup: 1000, bootstrapTimeoutMs: 100 });
    try {
      const res = await post(`${sim.url}/v1/chat/completions`, pd(999_999));
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/bootstrap room 999999 not ready/);
      expect(sim.stats()).toMatchObject({ active: 0, failed: 1 });
    } finally {
      await sim.close();
    }
  });
});
