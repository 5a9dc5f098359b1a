/**
 * Bedrock Runtime `Converse` / `ConverseStream` request bodies → the OpenAI chat body the gateway
 * plans (the same plan, quotas, metering and fallback as `/v1/chat/completions`). Validates the
 * Converse shape with zod first, so a bad body is a `ValidationException` naming the Converse
 * field, not the OpenAI one. Pure functions over plain data.
 */
import * as z from 'zod/mini';
import '../core/zod.ts';
import { InvalidRequestError } from '../core/errors.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../core/json-depth.ts';
import type { ServiceTierValue } from '../core/request-schema.ts';

type Json = Record<string, unknown>;

/** Converse `serviceTier.type` values (the SDK's `ServiceTierType`). */
export const CONVERSE_SERVICE_TIERS = ['priority', 'default', 'flex', 'reserved'] as const;

const imageBlock = z.looseObject({
  format: z.enum(['png', 'jpeg', 'gif', 'webp']),
  source: z.looseObject({ bytes: z.string().check(z.minLength(1)) }),
});
const toolUseBlock = z.looseObject({ toolUseId: z.string().check(z.minLength(1)), name: z.string().check(z.minLength(1)), input: z.unknown() });
const toolResultContent = z.looseObject({ text: z.optional(z.string()), json: z.optional(z.unknown()) });
const toolResultBlock = z.looseObject({
  toolUseId: z.string().check(z.minLength(1)),
  content: z.array(toolResultContent),
  status: z.optional(z.enum(['success', 'error'])),
});
const contentBlock = z.looseObject({
  text: z.optional(z.string()),
  image: z.optional(imageBlock),
  toolUse: z.optional(toolUseBlock),
  toolResult: z.optional(toolResultBlock),
});
const message = z.looseObject({
  role: z.enum(['user', 'assistant']),
  content: z.array(contentBlock).check(z.minLength(1, 'a message needs at least one content block')),
});
const toolSpec = z.looseObject({
  name: z.string().check(z.minLength(1)),
  description: z.optional(z.string()),
  inputSchema: z.looseObject({ json: z.unknown() }),
});

/** The Converse request body as the door accepts it (model ID comes from the path). */
export const converseRequestSchema = z.looseObject({
  messages: z.array(message).check(z.minLength(1, 'messages must contain at least one message')),
  system: z.optional(z.array(z.looseObject({ text: z.optional(z.string()) }))),
  inferenceConfig: z.optional(
    z.object({
      maxTokens: z.optional(z.int().check(z.positive())),
      temperature: z.optional(z.number().check(z.gte(0), z.lte(1))),
      topP: z.optional(z.number().check(z.gte(0), z.lte(1))),
      stopSequences: z.optional(z.array(z.string()).check(z.maxLength(4))),
    }),
  ),
  toolConfig: z.optional(
    z.looseObject({
      tools: z.array(z.looseObject({ toolSpec })).check(z.minLength(1)),
      toolChoice: z.optional(
        z.looseObject({
          auto: z.optional(z.looseObject({})),
          any: z.optional(z.looseObject({})),
          tool: z.optional(z.looseObject({ name: z.string().check(z.minLength(1)) })),
        }),
      ),
    }),
  ),
  additionalModelRequestFields: z.optional(z.record(z.string(), z.unknown())),
  serviceTier: z.optional(z.looseObject({ type: z.enum(CONVERSE_SERVICE_TIERS) })),
  performanceConfig: z.optional(z.looseObject({ latency: z.enum(['standard', 'optimized']) })),
});

/** A validated Converse request body. */
export type ConverseRequest = z.infer<typeof converseRequestSchema>;

/** Fields of `additionalModelRequestFields` the door sets itself (a client value would be ignored or unsafe). */
const RESERVED_FIELDS = new Set(['model', 'messages', 'stream', 'stream_options', 'service_tier', 'tools', 'tool_choice', 'max_tokens', 'max_completion_tokens', 'n']);

/**
 * Parses and validates a Converse body: a 400 {@link InvalidRequestError} (a `ValidationException`
 * at the door) naming the first bad field.
 */
export function parseConverseBody(raw: string): ConverseRequest {
  if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) {
    throw new InvalidRequestError(`The JSON body is nested too deeply: at most ${MAX_JSON_DEPTH} levels of arrays and objects are accepted.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON.');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InvalidRequestError('The request body must be a JSON object.');
  const result = converseRequestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const param = issue.path.length ? issue.path.map(String).join('.') : null;
    const detail =
      param === 'serviceTier.type' ? `expected one of ${CONVERSE_SERVICE_TIERS.join(', ')}` : issue.message;
    throw new InvalidRequestError(`1 validation error detected: Value at '${param ?? 'body'}' failed to satisfy constraint: ${detail}`, param);
  }
  return result.data;
}

/**
 * The OpenAI `service_tier` a Converse request asks for: `serviceTier.type` as is (`reserved` is
 * refused: no tier of the gateway is reserved capacity); `performanceConfig.latency: "optimized"`
 * without a `serviceTier` asks for `priority`. The plan then grants what the tenant holds and is
 * configured (a downgrade is echoed in the answer's `serviceTier`).
 */
export function askedServiceTier(request: Pick<ConverseRequest, 'serviceTier' | 'performanceConfig'>): ServiceTierValue | undefined {
  const type = request.serviceTier?.type;
  if (type === 'reserved') {
    throw new InvalidRequestError("The service tier 'reserved' is not available on this gateway: use 'priority', 'default' or 'flex'.", 'serviceTier.type');
  }
  if (type) return type;
  return request.performanceConfig?.latency === 'optimized' ? 'priority' : undefined;
}

function toolResultText(block: NonNullable<z.infer<typeof toolResultBlock>>): string {
  return block.content.map((c) => (typeof c.text === 'string' ? c.text : c.json !== undefined ? JSON.stringify(c.json) : '')).join('');
}

/** One Converse message → OpenAI chat messages (tool results become `tool` messages, in order). */
function chatMessages(m: ConverseRequest['messages'][number], i: number): Json[] {
  const out: Json[] = [];
  const parts: Json[] = [];
  const toolCalls: Json[] = [];
  m.content.forEach((block, j) => {
    if (block.text !== undefined) parts.push({ type: 'text', text: block.text });
    else if (block.image) parts.push({ type: 'image_url', image_url: { url: `data:image/${block.image.format};base64,${block.image.source.bytes}` } });
    else if (block.toolUse && m.role === 'assistant') {
      toolCalls.push({ id: block.toolUse.toolUseId, type: 'function', function: { name: block.toolUse.name, arguments: JSON.stringify(block.toolUse.input ?? {}) } });
    } else if (block.toolResult && m.role === 'user') {
      out.push({ role: 'tool', tool_call_id: block.toolResult.toolUseId, content: toolResultText(block.toolResult) });
    } else {
      const kind = Object.keys(block)[0] ?? 'empty';
      throw new InvalidRequestError(`The content block '${kind}' at 'messages.${i}.content.${j}' is not supported here (text, image, toolUse in assistant turns, toolResult in user turns).`, `messages.${i}.content.${j}`);
    }
  });
  if (parts.length > 0 || toolCalls.length > 0) {
    const onlyText = parts.every((p) => p.type === 'text');
    const content = parts.length === 0 ? null : onlyText ? parts.map((p) => p.text as string).join('') : parts;
    out.push({ role: m.role, content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) });
  }
  return out;
}

function toolChoiceOf(choice: NonNullable<ConverseRequest['toolConfig']>['toolChoice']): unknown {
  if (!choice) return undefined;
  if (choice.tool) return { type: 'function', function: { name: choice.tool.name } };
  if (choice.any) return 'required';
  return 'auto';
}

/**
 * A validated Converse request → the OpenAI chat body of the gateway's plan. `system` blocks
 * become one system message; `inferenceConfig` becomes `max_tokens`, `temperature`, `top_p`,
 * `stop`; `toolConfig` becomes `tools` and `tool_choice`; `additionalModelRequestFields` pass
 * through as body fields (minus the ones the door sets); a stream asks for its usage.
 *
 * @example
 * toChatBody('llama-3.1-8b', parseConverseBody('{"messages":[{"role":"user","content":[{"text":"hi"}]}]}'), false)
 * // { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] }
 */
export function toChatBody(model: string, request: ConverseRequest, stream: boolean): Json {
  const extra: Json = {};
  for (const [key, value] of Object.entries(request.additionalModelRequestFields ?? {})) {
    if (!RESERVED_FIELDS.has(key)) extra[key] = value;
  }
  const system = (request.system ?? []).map((b) => b.text ?? '').filter((t) => t.length > 0).join('\n');
  const messages = [...(system ? [{ role: 'system', content: system }] : []), ...request.messages.flatMap(chatMessages)];
  const config = request.inferenceConfig ?? {};
  const tools = request.toolConfig?.tools.map(({ toolSpec: spec }) => ({
    type: 'function',
    function: { name: spec.name, ...(spec.description !== undefined ? { description: spec.description } : {}), parameters: spec.inputSchema.json ?? { type: 'object', properties: {} } },
  }));
  const toolChoice = toolChoiceOf(request.toolConfig?.toolChoice);
  const tier = askedServiceTier(request);
  return {
    ...extra,
    model,
    messages,
    ...(config.maxTokens !== undefined ? { max_tokens: config.maxTokens } : {}),
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config.topP !== undefined ? { top_p: config.topP } : {}),
    ...(config.stopSequences?.length ? { stop: config.stopSequences } : {}),
    ...(tools ? { tools } : {}),
    ...(toolChoice !== undefined ? { tool_choice: toolChoice } : {}),
    ...(tier ? { service_tier: tier } : {}),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
}
