/**
 * The end-to-end suite: black-box behaviour that must hold on any splitserve deployment, the
 * embedded runtime (`npm test`), LocalStack or AWS (`npm run test:e2e` with SPLITSERVE_ENDPOINT).
 * It uses only the public API and the official `openai` client; it changes nothing on the target.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A deployment under test. */
export interface E2ETarget {
  /** Base URL of the API, without `/v1` (e.g. the stack's `ApiUrl` output). */
  readonly url: string;
  readonly apiKey: string;
  readonly model: string;
  close?(): Promise<void>;
}

const TIERS = ['priority', 'default', 'flex'];

/** Registers the end-to-end suite against the target `start` yields. */
export function describeE2E(name: string, start: () => Promise<E2ETarget>): void {
  describe(`end to end (${name})`, () => {
    let target: E2ETarget;
    let client: OpenAI;
    const base = () => target.url.replace(/\/+$/, '');

    beforeAll(async () => {
      target = await start();
      client = new OpenAI({ baseURL: `${base()}/v1`, apiKey: target.apiKey, maxRetries: 0, timeout: 60_000 });
    }, 300_000);
    afterAll(async () => {
      await target?.close?.();
    });

    it('is healthy', async () => {
      const res = await fetch(`${base()}/health`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBeTruthy();
    });

    it('lists the model', async () => {
      const models = await client.models.list();
      expect(models.data.map((m) => m.id)).toContain(target.model);
    });

    it('streams a priority completion, the tier served on every chunk, usage last', async () => {
      const stream = await client.chat.completions.create({
        model: target.model,
        messages: [{ role: 'user', content: 'Say hello.' }],
        service_tier: 'priority',
        stream: true,
        max_tokens: 8,
        stream_options: { include_usage: true },
      });
      const tiers = new Set<string | null | undefined>();
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        tiers.add(chunk.service_tier);
        text += chunk.choices[0]?.delta.content ?? '';
        if (chunk.usage) usage = chunk.usage;
      }
      expect(tiers.size).toBe(1);
      expect(TIERS).toContain([...tiers][0]);
      expect(text.length).toBeGreaterThan(0);
      expect(usage?.completion_tokens).toBeGreaterThan(0);
    });

    it('answers a non-streamed completion with the tier served and usage', async () => {
      const res = await client.chat.completions.create({ model: target.model, messages: [{ role: 'user', content: 'Say hello.' }], service_tier: 'priority', max_tokens: 8 });
      expect(TIERS).toContain(res.service_tier);
      expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
      expect(res.usage?.total_tokens).toBeGreaterThan(0);
    });

    it('refuses an unknown key (401), an unknown tier (400 on service_tier) and an unknown model (404)', async () => {
      const stranger = new OpenAI({ baseURL: `${base()}/v1`, apiKey: 'sk-ss-e2e-not-a-key-00000000000000000000', maxRetries: 0 });
      await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const tier = await client.chat.completions
        .create({ model: target.model, messages: [{ role: 'user', content: 'x' }], service_tier: 'gold' as never })
        .catch((e: unknown) => e);
      expect(tier).toBeInstanceOf(OpenAI.BadRequestError);
      expect((tier as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('service_tier');
      const model = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(model).toBeInstanceOf(OpenAI.NotFoundError);
    });
  });
}
