/**
 * The gateway's OpenAI `chat.completion` → a Bedrock Runtime `Converse` response: the message's
 * text and `tool_calls` as content blocks, `finish_reason` as `stopReason`, usage, latency, and
 * the tier that really served the request as `serviceTier` (after a downgrade or a fallback too).
 * Pure functions over plain data.
 */

type Json = Record<string, unknown>;

/** Converse `stopReason` of an OpenAI finish (a vLLM `stop_reason` string means a stop sequence matched). */
export function converseStopReason(finishReason: unknown, stopReason?: unknown): string {
  switch (finishReason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'content_filtered';
    default:
      return typeof stopReason === 'string' ? 'stop_sequence' : 'end_turn';
  }
}

/** Converse `usage` of OpenAI usage (zeros for what the backend did not report). */
export function converseUsage(usage: unknown): { inputTokens: number; outputTokens: number; totalTokens: number } {
  const u = (usage ?? {}) as { prompt_tokens?: unknown; completion_tokens?: unknown };
  const inputTokens = typeof u.prompt_tokens === 'number' ? u.prompt_tokens : 0;
  const outputTokens = typeof u.completion_tokens === 'number' ? u.completion_tokens : 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** The tool input of an OpenAI `function.arguments` text (`{}` when empty; the raw text kept under `_raw` when not JSON). */
function toolInput(args: unknown): unknown {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    return JSON.parse(args);
  } catch {
    return { _raw: args };
  }
}

/** What the answer says about its latency setting: `optimized` when the request asked for it and `priority` served it. */
export function servedLatency(askedOptimized: boolean, tierServed: string): 'optimized' | 'standard' {
  return askedOptimized && tierServed === 'priority' ? 'optimized' : 'standard';
}

/**
 * A shaped `chat.completion` → a Converse response.
 *
 * @param latencyMs - the request's time in the gateway (`metrics.latencyMs`)
 * @param askedOptimized - whether the request set `performanceConfig.latency: "optimized"`
 */
export function toConverseResponse(completion: Json, latencyMs: number, askedOptimized: boolean): Json {
  const choice = ((completion.choices as Json[] | undefined) ?? [])[0] ?? {};
  const message = (choice.message ?? {}) as Json;
  const content: Json[] = [];
  if (typeof message.content === 'string' && message.content.length > 0) content.push({ text: message.content });
  for (const call of (message.tool_calls as Json[] | undefined) ?? []) {
    const fn = (call.function ?? {}) as Json;
    content.push({ toolUse: { toolUseId: String(call.id ?? ''), name: String(fn.name ?? ''), input: toolInput(fn.arguments) } });
  }
  const tier = typeof completion.service_tier === 'string' ? completion.service_tier : 'default';
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: converseStopReason(choice.finish_reason, choice.stop_reason),
    usage: converseUsage(completion.usage),
    metrics: { latencyMs },
    serviceTier: { type: tier },
    ...(askedOptimized ? { performanceConfig: { latency: servedLatency(true, tier) } } : {}),
  };
}
