import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { PoolConfig } from '../../lambda/core/config.ts';
import { sendsContinuousUsage, withContinuousUsage } from '../../lambda/backends/continuous-usage.ts';

const pools = parseConfig({
  pools: {
    vllm: { protocol: 'vllm-nixl', endpoints: ['http://10.0.0.1:8000'] },
    sglang: { protocol: 'sglang', endpoints: ['http://10.0.0.2:30000'] },
    compat: { protocol: 'openai', endpoints: ['http://10.0.0.3:8000'] },
    hosted: { protocol: 'openai', endpoints: ['https://api.openai.com/v1'] },
    hostedOn: { protocol: 'openai', endpoints: ['https://api.openai.com/v1'], continuousUsage: true },
    compatOff: { protocol: 'openai', endpoints: ['http://10.0.0.4:8080'], continuousUsage: false },
    bedrock: { protocol: 'bedrock', region: 'us-east-1' },
  },
  models: {},
  tiers: {},
}).pools as Record<string, PoolConfig>;

describe('continuous usage on streams', () => {
  it('is asked of vLLM, SGLang and OpenAI-compatible pools, not of api.openai.com or Bedrock, unless the pool says otherwise', () => {
    expect(Object.fromEntries(Object.entries(pools).map(([name, pool]) => [name, sendsContinuousUsage(pool)]))).toEqual({
      vllm: true,
      sglang: true,
      compat: true,
      hosted: false,
      hostedOn: true,
      compatOff: false,
      bedrock: false,
    });
    expect(sendsContinuousUsage(undefined)).toBe(false);
  });

  it('sets the field on a streamed body, keeping the client stream options; leaves other bodies alone', () => {
    const streamed = { model: 'm', stream: true, stream_options: { include_usage: false, extra: 1 } };
    expect(withContinuousUsage(streamed, pools.vllm)).toEqual({ model: 'm', stream: true, stream_options: { include_usage: true, continuous_usage_stats: true, extra: 1 } });
    expect(withContinuousUsage({ model: 'm', stream: true }, pools.sglang)).toEqual({ model: 'm', stream: true, stream_options: { include_usage: true, continuous_usage_stats: true } });
    expect(withContinuousUsage({ model: 'm', stream: false }, pools.vllm)).toEqual({ model: 'm', stream: false });
    expect(withContinuousUsage({ model: 'm', stream: true, stream_options: { include_usage: true } }, pools.hosted)).toEqual({ model: 'm', stream: true, stream_options: { include_usage: true } });
  });
});
