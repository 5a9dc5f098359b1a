/**
 * The plan's failure scenarios, one suite for both executors: success, prefill failing, decode
 * failing, and both routes down, each non-streamed (the executor under test) and streamed (the
 * in-process executor, which both runtimes use for streams). Pools: `prefill` + `decode` serve the
 * priority tier, which falls back to `default` on `gpu`.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/** Which pool a fault goes to. */
export type ScenarioPool = 'prefill' | 'decode' | 'gpu';

/** A running gateway whose pools' faults the suite can script. */
export interface ScenarioTarget {
  readonly url: string;
  readonly apiKey: string;
  readonly model: string;
  setFaults(pool: ScenarioPool, faults: { errorRate?: number; errorStatus?: number }): void;
  close(): Promise<void>;
}

/** Registers the scenarios against `start`'s gateway, naming the non-streaming executor. */
export function describePlanScenarios(executor: string, start: () => Promise<ScenarioTarget>): void {
  describe(`plan scenarios (non-streaming on the ${executor} executor; streaming in-process)`, () => {
    let target: ScenarioTarget;
    let client: OpenAI;

    beforeAll(async () => {
      target = await start();
      client = new OpenAI({ baseURL: `${target.url}/v1`, apiKey: target.apiKey, maxRetries: 0 });
    }, 240_000);
    afterAll(async () => {
      await target?.close();
    });
    afterEach(() => {
      for (const pool of ['prefill', 'decode', 'gpu'] as const) target.setFaults(pool, {});
    });

    const ask = () => ({ model: target.model, messages: [{ role: 'user' as const, content: 'Say hi' }], max_tokens: 4, service_tier: 'priority' as const });
    const tiersOfStream = async () => {
      const tiers = new Set<string | null | undefined>();
      for await (const chunk of await client.chat.completions.create({ ...ask(), stream: true })) tiers.add(chunk.service_tier);
      return [...tiers];
    };

    it('success: served at the tier asked', async () => {
      expect((await client.chat.completions.create(ask())).service_tier).toBe('priority');
      expect(await tiersOfStream()).toEqual(['priority']);
    });

    it('prefill fails: served by the fallback tier, and the answer says so', async () => {
      target.setFaults('prefill', { errorRate: 1, errorStatus: 503 });
      expect((await client.chat.completions.create(ask())).service_tier).toBe('default');
      expect(await tiersOfStream()).toEqual(['default']);
    });

    it('decode fails: served by the fallback tier (a stream falls back before its first byte)', async () => {
      target.setFaults('decode', { errorRate: 1, errorStatus: 500 });
      expect((await client.chat.completions.create(ask())).service_tier).toBe('default');
      expect(await tiersOfStream()).toEqual(['default']);
    });

    it('both routes down: 5xx with the OpenAI error shape', async () => {
      target.setFaults('prefill', { errorRate: 1, errorStatus: 500 });
      target.setFaults('gpu', { errorRate: 1, errorStatus: 500 });
      for (const stream of [false, true]) {
        const err = await client.chat.completions.create({ ...ask(), stream }).catch((e: unknown) => e);
        expect(err, `stream: ${stream}`).toBeInstanceOf(OpenAI.APIError);
        const api = err as InstanceType<typeof OpenAI.APIError>;
        expect(api.status).toBeGreaterThanOrEqual(500);
        expect(api.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
      }
    });
  });
}
