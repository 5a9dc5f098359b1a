/**
 * What the client sees of a backend's answer: the public model name, the tier actually served
 * (`service_tier`, on the completion and on every stream chunk), and no gateway-internal fields.
 */
import type { PlanState, PlanUsage } from './plan.ts';

const INTERNAL_FIELDS = ['kv_transfer_params'] as const;

/** Shapes a non-streamed completion body for the client (mutates and returns it). */
export function shapeCompletion(json: Record<string, unknown>, model: string, tierServed: string): Record<string, unknown> {
  for (const field of INTERNAL_FIELDS) delete json[field];
  json.model = model;
  json.service_tier = tierServed;
  return json;
}

/** Usage of a completion body; falls back to the admission estimate for a backend that sent none. */
export function completionUsage(json: Record<string, unknown>, state: Pick<PlanState, 'promptEstimate' | 'prefillPromptTokens'>): PlanUsage {
  const usage = json.usage as { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined;
  return {
    promptTokens: typeof usage?.prompt_tokens === 'number' ? usage.prompt_tokens : (state.prefillPromptTokens ?? state.promptEstimate),
    completionTokens: typeof usage?.completion_tokens === 'number' ? usage.completion_tokens : 0,
  };
}

/** Options of {@link StreamShaper}. */
export interface StreamShaperOptions {
  readonly model: string;
  readonly tierServed: string;
  /** Whether the client asked for `stream_options.include_usage`. */
  readonly includeUsage: boolean;
}

/**
 * Rewrites a decode stream chunk by chunk and keeps the tallies metering needs: the reported
 * usage, or, for a stream that ends early, the number of generated chunks.
 */
export class StreamShaper {
  /** Usage from the final usage chunk, once seen. */
  usage: { promptTokens: number; completionTokens: number } | null = null;
  /** Chunks that carried generated content (a token count for streams cut before their usage chunk). */
  generatedChunks = 0;
  /** Set when the upstream sent an error event. */
  upstreamError: Record<string, unknown> | null = null;
  sawDone = false;

  constructor(private readonly options: StreamShaperOptions) {}

  /**
   * Turns a batch of upstream `data:` payloads into the SSE text for the client (possibly empty).
   */
  shape(batch: readonly string[]): string {
    let out = '';
    for (const data of batch) {
      if (data === '[DONE]') {
        this.sawDone = true;
        out += 'data: [DONE]\n\n';
        continue;
      }
      const line = this.shapeChunk(data);
      if (line) out += `data: ${line}\n\n`;
    }
    return out;
  }

  private shapeChunk(data: string): string | null {
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (chunk.error !== undefined) {
      this.upstreamError = chunk;
      return data;
    }
    const choices = chunk.choices as Array<Record<string, unknown>> | undefined;
    const usage = chunk.usage as { prompt_tokens?: number; completion_tokens?: number } | null | undefined;
    if (usage && typeof usage.completion_tokens === 'number') {
      this.usage = { promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens };
    }
    if (!this.options.includeUsage) {
      if (!choices || choices.length === 0) return null;
      delete chunk.usage;
    }
    if (choices?.some(hasGenerated)) this.generatedChunks += 1;
    for (const field of INTERNAL_FIELDS) delete chunk[field];
    chunk.model = this.options.model;
    chunk.service_tier = this.options.tierServed;
    return JSON.stringify(chunk);
  }
}

function hasGenerated(choice: Record<string, unknown>): boolean {
  const delta = choice.delta as Record<string, unknown> | undefined;
  if (delta) return (typeof delta.content === 'string' && delta.content.length > 0) || Array.isArray(delta.tool_calls);
  return typeof choice.text === 'string' && choice.text.length > 0;
}
