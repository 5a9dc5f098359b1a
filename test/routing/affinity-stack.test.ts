/**
 * Prefix-cache affinity on the Step Functions executor: non-streamed requests run as the
 * synthesized state machine behind the gateway's Lambda bundle (what `npm start` serves), so the
 * routing key crosses the gateway function, the state machine's JSON state and the task
 * functions, each with its own pool directory. Three simulated engines with a prefix cache; every
 * later turn of every conversation finds its earlier prompt cached, which only happens when the
 * task function routed it to the engine that served the turn before.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack/start-stack.ts';
import { KEY, MODEL, startTestStack } from '../local/stack/fixture.ts';

const CONFIG = {
  pools: {
    gpu: { protocol: 'openai', affinity: {}, simulate: { profile: 'gpu-aggregated', replicas: 3, speedup: 1000, prefixCacheTokens: 200_000 } },
  },
  models: { [MODEL]: { pools: ['gpu'] } },
  tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
  tenants: [{ id: 'stack-test', apiKeys: [KEY], tiers: ['default'] }],
};

let stack: LocalStack;
let client: OpenAI;

beforeAll(async () => {
  stack = await startTestStack({ config: CONFIG, cache: 'cdk.out.test-affinity' });
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 600_000);

afterAll(async () => {
  await stack?.close();
});

type Usage = OpenAI.CompletionUsage & { prompt_tokens_details?: { cached_tokens?: number } };

describe('prefix-cache affinity on the Step Functions executor', () => {
  it('routes every later turn of a conversation to the engine holding its prefix', async () => {
    const conversations = Array.from({ length: 5 }, (_, s): OpenAI.ChatCompletionMessageParam[] => [
      { role: 'system', content: `Assistant ${s}. ${'context '.repeat(150)}` },
      { role: 'user', content: `question one of conversation ${s} ${'detail '.repeat(40)}` },
    ]);
    const previousPrompt = new Array<number>(conversations.length).fill(0);
    for (let turn = 0; turn < 3; turn++) {
      for (const [s, messages] of conversations.entries()) {
        if (turn > 0) messages.push({ role: 'user', content: `follow-up ${turn} ${'more '.repeat(30)}` });
        const answer = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4 });
        const usage = answer.usage as Usage;
        const cached = usage.prompt_tokens_details?.cached_tokens ?? -1;
        // The previous turn's prompt, in whole 16-token blocks, is in this engine's cache.
        if (turn === 0) expect(cached).toBe(0);
        else expect(cached).toBeGreaterThanOrEqual(Math.floor(previousPrompt[s]! / 16) * 16);
        previousPrompt[s] = usage.prompt_tokens;
        messages.push({ role: 'assistant', content: answer.choices[0]!.message.content ?? '' });
      }
    }
  });
});
