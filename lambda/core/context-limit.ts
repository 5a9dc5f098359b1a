/**
 * The per-model size bound, checked before any backend call: a request whose completion limit is
 * above the model's context, or whose prompt is far larger than the context could hold, is a 400
 * `context_length_exceeded` at once, instead of a long upload, a long prefill and an engine error
 * (or a hang) later.
 *
 * The prompt is measured by the reservation's upper bound (token-estimate.ts: one token per UTF-8
 * byte of its text, plus template, tool and media overheads), so the bound is in those units:
 * `maxPromptBytes`, by default {@link BYTES_PER_CONTEXT_TOKEN} × `contextTokens`. No tokenizer
 * turns fewer than one byte into a token, and real text runs 3–5 bytes a token, so the default
 * refuses only prompts that cannot fit; the engine still refuses the ones near the limit with its
 * own exact count (mapped to a 400 as well).
 */
import type { ModelConfig } from './config.ts';
import { InvalidRequestError } from './errors.ts';
import type { TokenBounds } from './token-estimate.ts';

/** Default prompt bound per context token: above any real tokenizer's bytes per token. */
export const BYTES_PER_CONTEXT_TOKEN = 8;

/**
 * Throws the 400 of a request that cannot fit the model's context; returns otherwise.
 *
 * @example
 * checkContextLimit('llama-3.1-8b', { pools: ['gpu'], contextTokens: 8192 }, bounds);
 */
export function checkContextLimit(model: string, config: Pick<ModelConfig, 'contextTokens' | 'maxPromptBytes'>, bounds: TokenBounds): void {
  const context = config.contextTokens;
  if (bounds.completion > context) {
    throw new InvalidRequestError(
      `This model's maximum context length is ${context} tokens. However, you requested ${bounds.completion} output tokens. Please reduce max_tokens (or max_completion_tokens).`,
      'max_tokens',
      'context_length_exceeded',
    );
  }
  const maxPrompt = config.maxPromptBytes ?? context * BYTES_PER_CONTEXT_TOKEN;
  if (bounds.prompt > maxPrompt) {
    throw new InvalidRequestError(
      `The prompt is too long for model '${model}': its size is ${bounds.prompt} (UTF-8 bytes of its text plus template overheads), over the ${maxPrompt} accepted for a context of ${context} tokens. Please shorten the messages.`,
      'messages',
      'context_length_exceeded',
    );
  }
}
