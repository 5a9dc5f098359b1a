/**
 * Token figures of a request before it runs: an UPPER BOUND that admission reserves (then
 * reconciled with the backend's reported usage, lambda/store/admission.ts `settle`), a central
 * estimate used where a guess is better than a bound (routing, metering an answer that carried no
 * usage), and the completion limit the backend is held to.
 *
 * The prompt bound, and why it is safe:
 * - Text: at most ONE TOKEN PER UTF-8 BYTE. Byte-level BPE (GPT-2/tiktoken, Llama 3, Qwen,
 *   Mistral Tekken) starts from one token per byte and merges only shorten it; SentencePiece with
 *   byte fallback (Llama 2, Mistral v1) emits a piece per character (≥ 1 byte) or a token per
 *   byte, plus one dummy-prefix piece per segment (covered by the per-message overhead below);
 *   special-token strings typed as text become one token for several bytes. Every tokenizer whose
 *   tokens each cover at least one byte of input obeys this, whatever the vocabulary, so no
 *   vocabulary is needed (none is downloaded; no npm tokenizer fits every model family served).
 * - Chat template: {@link REQUEST_OVERHEAD_TOKENS} per request (BOS, the generation prompt, and
 *   the preamble some templates add unasked, e.g. Llama 3.1's "Cutting Knowledge Date" system
 *   header, ~25 tokens) and {@link MESSAGE_OVERHEAD_TOKENS} per message (role header and end
 *   markers: Llama 3 4, ChatML 4-5, Mistral 2-4), bounded ~3x over the templates in use.
 * - Every part of a message that reaches the prompt counts at one token per byte: every string in
 *   it (role, name, content text, tool_call_id, reasoning text…), and each tool call's name and
 *   arguments; arguments are counted as the larger of the string JSON-escaped and its parsed
 *   value printed with `indent=4` (vLLM parses them to an object before templating, and templates
 *   print objects with `tojson`, Llama 3.1 with `indent=4`), plus {@link TOOL_CALL_OVERHEAD_TOKENS}.
 * - `tools` (and legacy `functions`): the schema printed with `indent=4` (HF's `tojson` is
 *   `json.dumps(ensure_ascii=False)`; the indented form is at least as long as the compact or
 *   `", "`-separated one), plus {@link TOOL_OVERHEAD_TOKENS} per tool and
 *   {@link TOOLS_PREAMBLE_TOKENS} once for the templates' tool instructions (Qwen 2.5 ~100,
 *   Llama 3.1 ~60). `documents` and `chat_template_kwargs` strings are counted as text.
 * - Images and other media parts: {@link MEDIA_PART_TOKENS} each (not their URL or base64 bytes):
 *   Qwen2/2.5-VL's default `max_pixels` of 12,845,056 at 28×28 pixels a token is 16,384 tokens;
 *   Llama 3.2 Vision needs at most 4 tiles × 1,601, Pixtral 4,096 + 64, LLaVA-NeXT 2,928. A long
 *   video or audio clip can exceed it: then usage is above the reservation (see below).
 * - `/v1/completions`: a string prompt at one token per byte plus {@link COMPLETION_OVERHEAD_TOKENS}
 *   (BOS/EOS), a token-id array at one token per id, a batch of prompts summed (and its
 *   completion bound multiplied by the batch size: each prompt gets its own completion); `suffix`
 *   as text. SGLang's chat `input_ids` (which bypass the template) count one token per id.
 * - Completion: `max_completion_tokens` ?? `max_tokens` ?? the configured `defaultMaxTokens`,
 *   and the gateway SENDS that default when the client gave none ({@link applyCompletionLimit}),
 *   so the engine cannot generate past what was reserved (vLLM and SGLang otherwise run a chat
 *   completion to the context length).
 *
 * Outside the bound: a request-supplied `chat_template` (vLLM refuses it unless started with
 * `--trust-request-chat-template`), media above the per-part figure, and templates that escape
 * `<>&'` as `\u003c` (Jinja's own `tojson`, not HF's). Usage above the reservation is still
 * metered and counted in full at settlement; it can push a window past its limit by at most that
 * request's excess.
 *
 * Cost: one pass over the body's strings (native UTF-8 lengths), a `JSON.stringify` of `tools` and
 * a parse of each tool call's arguments when present. Measured: 0.2 µs for a one-line chat, 1.7 µs
 * for a 4 KB prompt, 7.6 µs with four tools and a tool call (docs/tiers-and-overload.md).
 */
import { MAX_JSON_DEPTH } from './json-depth.ts';
import type { ApiKind, GenerationBody } from './request-schema.ts';

/** Tokens per request for the chat template's fixed parts (BOS, generation prompt, default preamble). */
export const REQUEST_OVERHEAD_TOKENS = 64;
/** Tokens per message for its role header and end markers. */
export const MESSAGE_OVERHEAD_TOKENS = 16;
/** Tokens per tool call for its wrapper (`<tool_call>`, `{"name": …, "arguments": …}`). */
export const TOOL_CALL_OVERHEAD_TOKENS = 16;
/** Tokens per tool definition for its wrapper. */
export const TOOL_OVERHEAD_TOKENS = 16;
/** Tokens once per request with tools, for the template's tool-use instructions. */
export const TOOLS_PREAMBLE_TOKENS = 256;
/** Tokens per image (or other media) part. */
export const MEDIA_PART_TOKENS = 16_384;
/** Tokens per `/v1/completions` prompt besides its text (BOS/EOS). */
export const COMPLETION_OVERHEAD_TOKENS = 8;

/** Content-part types that carry text; any other part type is media. */
const TEXT_PARTS: ReadonlySet<string> = new Set(['text', 'input_text', 'output_text', 'refusal']);

const CHARS_PER_TOKEN = 4;

/** UTF-8 length of a string, without encoding it (native: ~20x faster than a JS loop on 4 KB). */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Bytes of a value printed as JSON with `indent=4` (0 for undefined). */
function indentedJsonBytes(value: unknown): number {
  const text = JSON.stringify(value, null, 4) as string | undefined;
  return text === undefined ? 0 : utf8Bytes(text);
}

/** A tool call's arguments: the larger of the escaped string and the parsed value printed indented. */
function argumentsBound(args: string): number {
  const escaped = utf8Bytes(JSON.stringify(args));
  const first = args.trimStart().charCodeAt(0);
  if (first !== 123 && first !== 91) return escaped; // not an object or array: printed as is
  try {
    return Math.max(escaped, indentedJsonBytes(JSON.parse(args)));
  } catch {
    return escaped;
  }
}

/**
 * Upper bound of the tokens any part of a message contributes: strings and scalars at a token a
 * byte, media parts at {@link MEDIA_PART_TOKENS}, tool calls with their overhead.
 */
function valueBound(value: unknown, key: string | undefined, depth: number): number {
  if (typeof value === 'string') return key === 'arguments' ? argumentsBound(value) : utf8Bytes(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
  // The edge refuses bodies nested deeper (json-depth.ts): every level that arrives is counted.
  if (value === null || typeof value !== 'object' || depth > MAX_JSON_DEPTH) return 0;
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += valueBound(item, key, depth + 1);
    if (key === 'tool_calls') n += value.length * TOOL_CALL_OVERHEAD_TOKENS;
    return n;
  }
  const object = value as Record<string, unknown>;
  // Arguments sent as an object rather than a JSON string: printed by the template with tojson.
  if (key === 'arguments') return indentedJsonBytes(object);
  if (typeof object.type === 'string' && key === 'content' && !TEXT_PARTS.has(object.type)) return MEDIA_PART_TOKENS;
  let n = 0;
  for (const k of Object.keys(object)) n += valueBound(object[k], key === 'content' ? 'content' : k, depth + 1);
  return n;
}

/** Tokens of a `/v1/completions` prompt (string, strings, ids, batch of ids) and how many prompts it holds. */
function completionPromptBound(prompt: unknown): { tokens: number; prompts: number } {
  if (typeof prompt === 'string') return { tokens: utf8Bytes(prompt) + COMPLETION_OVERHEAD_TOKENS, prompts: 1 };
  if (!Array.isArray(prompt) || prompt.length === 0) return { tokens: COMPLETION_OVERHEAD_TOKENS, prompts: 1 };
  if (prompt.every((p) => typeof p === 'number')) return { tokens: prompt.length + COMPLETION_OVERHEAD_TOKENS, prompts: 1 };
  let tokens = 0;
  for (const p of prompt) {
    if (typeof p === 'string') tokens += utf8Bytes(p);
    else if (Array.isArray(p)) tokens += p.length;
    else tokens += valueBound(p, undefined, 0);
    tokens += COMPLETION_OVERHEAD_TOKENS;
  }
  return { tokens, prompts: prompt.length };
}

/** Tokens of a `/v1/completions` request's prompt (already bounded) and its `suffix`. */
function textPromptBound(body: GenerationBody, prompt: { readonly tokens: number }): number {
  return prompt.tokens + (typeof body.suffix === 'string' ? utf8Bytes(body.suffix) : 0);
}

/** A request's token bounds (see the file header for why they are upper bounds). */
export interface TokenBounds {
  /** Upper bound of the prompt tokens. */
  readonly prompt: number;
  /** Upper bound of the completion tokens: the completion limit × the number of prompts. */
  readonly completion: number;
  /** What admission reserves: prompt + completion. */
  readonly total: number;
}

/**
 * Upper bound of a request's prompt tokens for any tokenizer that spends at least one byte of
 * input per token (every byte-level BPE and byte-fallback SentencePiece model).
 *
 * @example
 * promptTokenBound('chat', { model: 'm', messages: [{ role: 'user', content: 'héllo' }] });
 * // 64 + 16 + 4 ("user") + 6 ("héllo") = 90
 */
export function promptTokenBound(api: ApiKind, body: GenerationBody): number {
  if (api === 'text') return textPromptBound(body, completionPromptBound(body.prompt));
  let n = REQUEST_OVERHEAD_TOKENS;
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  for (const message of messages) n += MESSAGE_OVERHEAD_TOKENS + valueBound(message, undefined, 0);
  for (const field of ['tools', 'functions'] as const) {
    const tools = body[field];
    if (Array.isArray(tools) && tools.length > 0) n += TOOLS_PREAMBLE_TOKENS + tools.length * TOOL_OVERHEAD_TOKENS + indentedJsonBytes(tools);
  }
  if (body.documents !== undefined) n += valueBound(body.documents, undefined, 0);
  if (body.chat_template_kwargs !== undefined) n += valueBound(body.chat_template_kwargs, undefined, 0);
  if (Array.isArray(body.input_ids)) n += body.input_ids.length;
  return n;
}

/**
 * The request's bounds: prompt, completion (its limit, times the prompts of a `/v1/completions`
 * batch) and their sum, which admission reserves.
 *
 * @example
 * const { total } = tokenBounds('chat', body, config.defaultMaxTokens);
 */
export function tokenBounds(api: ApiKind, body: GenerationBody, defaultMaxTokens: number): TokenBounds {
  // `/v1/completions`: its prompt walked once, for both its tokens and its number of prompts.
  const text = api === 'text' ? completionPromptBound(body.prompt) : undefined;
  const prompt = text ? textPromptBound(body, text) : promptTokenBound(api, body);
  const prompts = text ? text.prompts : 1;
  const completion = maxCompletionTokens(body, defaultMaxTokens) * prompts;
  return { prompt, completion, total: prompt + completion };
}

function textLength(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, part) => n + textLength(part), 0);
  if (value && typeof value === 'object') {
    const part = value as { text?: unknown; content?: unknown };
    return textLength(part.text ?? part.content ?? '');
  }
  return 0;
}

/**
 * A central estimate of the prompt tokens (≈ 4 characters a token, at least 1): for routing
 * decisions and for metering an answer that reported no usage. Never for reservations: it can
 * be below the real count (see {@link promptTokenBound}).
 */
export function estimatePromptTokens(api: ApiKind, body: GenerationBody): number {
  const chars = api === 'chat' ? textLength(body.messages) : textLength(body.prompt);
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}

/** The completion tokens a request may use: its own limit, else the configured default. */
export function maxCompletionTokens(body: GenerationBody, defaultMaxTokens: number): number {
  return body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens;
}

/**
 * Makes the completion limit the engine sees the one reserved: a body with neither
 * `max_completion_tokens` nor `max_tokens` gets `defaultMaxTokens` (chat: `max_completion_tokens`,
 * which vLLM, SGLang, the OpenAI API and the Bedrock mapping read first and reasoning models
 * require; `/v1/completions`: `max_tokens`, its only field). Mutates and returns `body`.
 *
 * @example
 * applyCompletionLimit('chat', { model: 'm', messages }, 1024).max_completion_tokens; // 1024
 */
export function applyCompletionLimit(api: ApiKind, body: GenerationBody, defaultMaxTokens: number): GenerationBody {
  if (body.max_completion_tokens == null && body.max_tokens == null) {
    if (api === 'chat') body.max_completion_tokens = defaultMaxTokens;
    else body.max_tokens = defaultMaxTokens;
  }
  return body;
}
