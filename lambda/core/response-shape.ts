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
  /**
   * Whether the client asked for `stream_options.continuous_usage_stats` (with `include_usage`).
   * Otherwise the usage the gateway asks the engine for on every chunk is hidden: `null` on the
   * chunks of a client that asked for `include_usage`, absent for one that did not. @default false
   */
  readonly continuousUsage?: boolean;
}

/**
 * Rewrites a decode stream chunk by chunk and keeps the tallies metering needs: the reported
 * usage, or, for a stream that ends early, the number of generated chunks.
 */
export class StreamShaper {
  /**
   * The latest usage the engine reported: the final usage chunk's, or, before it, the running
   * figures of the last chunk that carried them (`continuous_usage_stats`), which is what an
   * abandoned stream is metered at.
   */
  usage: { promptTokens: number; completionTokens: number } | null = null;
  /** Chunks that carried generated content (a token count for streams cut before their usage chunk). */
  generatedChunks = 0;
  /** Upstream events that were not JSON (dropped; the relay reports the count). */
  invalidEvents = 0;
  /** Set when the upstream sent an error event. */
  upstreamError: Record<string, unknown> | null = null;
  sawDone = false;
  /** `"model":"<public name>"`: present when the upstream already uses the public name. */
  private readonly modelField: string;
  /** What the fast path appends in place of the closing brace. */
  private readonly tierSuffix: string;

  constructor(private readonly options: StreamShaperOptions) {
    this.modelField = `"model":${JSON.stringify(options.model)}`;
    this.tierSuffix = `,"service_tier":${JSON.stringify(options.tierServed)}}`;
  }

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
      const fast = this.fastChunk(data);
      const line = fast === undefined ? this.shapeChunk(data) : fast;
      if (line) out += `data: ${line}\n\n`;
    }
    return out;
  }

  /**
   * The common token chunk, rewritten as text without a JSON round trip: it carries no error, no
   * usage object, no KV parameters and no tier of its own, and already names the public model.
   * Such a chunk only needs `service_tier` appended (and a `"usage":null` dropped for a client
   * that did not ask for usage). Anything else returns undefined and takes {@link shapeChunk}.
   * Inside JSON strings quotes are escaped, so these key patterns cannot match generated text.
   */
  private fastChunk(data: string): string | undefined {
    if (data.length < 3 || data.charCodeAt(0) !== 123 || data.charCodeAt(data.length - 1) !== 125) return undefined;
    // One scan for every key that matters (one regex is ~6x cheaper than a String#includes each).
    let modelSeen = false;
    let usageAt = -1;
    /** End of the usage value: after `null`, or after the `}` of a flat running-usage object. */
    let usageEnd = -1;
    WATCHED_KEYS.lastIndex = 0;
    for (let m = WATCHED_KEYS.exec(data); m !== null; m = WATCHED_KEYS.exec(data)) {
      if (m[1] === 'model' && !modelSeen && data.startsWith(this.modelField, m.index)) modelSeen = true;
      else if (m[1] === 'usage' && usageAt < 0) {
        const at = WATCHED_KEYS.lastIndex;
        if (data.startsWith('null', at)) usageEnd = at + 4;
        else if (data.charCodeAt(at) === 123) {
          // The running usage of `continuous_usage_stats`: a flat object of counts.
          const close = data.indexOf('}', at);
          if (close < 0 || data.lastIndexOf('{', close) !== at || data.startsWith(EMPTY_CHOICES, data.indexOf('"choices":'))) return undefined;
          if (!this.runningUsage(data, at, close)) return undefined;
          usageEnd = close + 1;
          WATCHED_KEYS.lastIndex = usageEnd;
        } else return undefined;
        usageAt = m.index;
      } else return undefined;
    }
    if (!modelSeen) return undefined;
    let out = data;
    if (usageAt >= 0) {
      const isNull = usageEnd - usageAt === USAGE_NULL.length;
      if (!this.options.includeUsage) {
        // Drop `,"usage":…`; a `"usage"` that opens the object takes the slow path.
        if (data.charCodeAt(usageAt - 1) !== 44) return undefined;
        out = data.slice(0, usageAt - 1) + data.slice(usageEnd);
      } else if (!isNull && this.options.continuousUsage !== true && !FINISHED.test(data)) {
        // Kept on a finishing chunk: some engines (llama.cpp) report the final usage there.
        out = data.slice(0, usageAt) + USAGE_NULL + data.slice(usageEnd);
      }
    }
    if (GENERATED.test(out)) this.generatedChunks += 1;
    return out.slice(0, -1) + this.tierSuffix;
  }

  /**
   * Records the running usage held in `data` between `from` and `to` (a flat
   * `{"prompt_tokens":…,"completion_tokens":…,…}`); false if it holds no completion count. Read
   * in place with indexOf, without slicing or a regex (this runs on every chunk).
   */
  private runningUsage(data: string, from: number, to: number): boolean {
    const completion = countAfter(data, COMPLETION_KEY, from, to);
    if (completion < 0) return false;
    const prompt = countAfter(data, PROMPT_KEY, from, to);
    const promptTokens = prompt < 0 ? 0 : prompt;
    // Updated in place: one object per stream, not one per chunk.
    if (this.usage) {
      this.usage.promptTokens = promptTokens;
      this.usage.completionTokens = completion;
    } else this.usage = { promptTokens, completionTokens: completion };
    return true;
  }

  private shapeChunk(data: string): string | null {
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data) as Record<string, unknown>;
    } catch {
      this.invalidEvents += 1;
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
    } else if (usage && choices && choices.length > 0 && this.options.continuousUsage !== true && !choices.some((c) => c.finish_reason != null)) {
      // Running usage the client did not ask for: `null`, as on any chunk before the usage chunk
      // (kept on a finishing chunk: some engines, llama.cpp, report the final usage there).
      chunk.usage = null;
    }
    if (choices?.some(hasGenerated)) this.generatedChunks += 1;
    for (const field of INTERNAL_FIELDS) delete chunk[field];
    chunk.model = this.options.model;
    chunk.service_tier = this.options.tierServed;
    return JSON.stringify(chunk);
  }
}

/** Keys that send a chunk off the fast path, or that it must check (`model`, `usage`). */
const WATCHED_KEYS = /"(model|error|usage|kv_transfer_params|service_tier)":/g;
const USAGE_NULL = '"usage":null';
const EMPTY_CHOICES = '"choices":[]';
/** A chunk with a finish reason (a string; `null` does not match). */
const FINISHED = /"finish_reason":"/;
const COMPLETION_KEY = '"completion_tokens":';
const PROMPT_KEY = '"prompt_tokens":';

/** The non-negative integer after `key` within [from, to) of `data`, or -1. */
function countAfter(data: string, key: string, from: number, to: number): number {
  const at = data.indexOf(key, from);
  if (at < 0 || at >= to) return -1;
  let n = 0;
  let i = at + key.length;
  const start = i;
  for (let c = data.charCodeAt(i); c >= 48 && c <= 57; c = data.charCodeAt(++i)) n = n * 10 + (c - 48);
  return i === start ? -1 : n;
}

/** A chunk that carries generated text or a tool call (a non-empty string opens with `"x` where x is not a quote). */
const GENERATED = /"content":"[^"]|"tool_calls":\[|"text":"[^"]/;

function hasGenerated(choice: Record<string, unknown>): boolean {
  const delta = choice.delta as Record<string, unknown> | undefined;
  if (delta) return (typeof delta.content === 'string' && delta.content.length > 0) || Array.isArray(delta.tool_calls);
  return typeof choice.text === 'string' && choice.text.length > 0;
}
