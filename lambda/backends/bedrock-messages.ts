/**
 * OpenAI request bodies → Bedrock Converse requests: messages (system, user, assistant, tool),
 * multi-part text, tools and `tool_choice`, sampling parameters, and the served tier mapped to
 * Converse's `serviceTier` / `performanceConfig`. Pure functions over plain data.
 */
import type {
  ContentBlock,
  ConverseStreamRequest,
  Message,
  SystemContentBlock,
  Tool,
  ToolChoice,
  ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import type { PoolConfig, TierConfig, TierName } from '../core/config.ts';
import { InvalidRequestError } from '../core/errors.ts';
import type { ApiKind } from '../core/request-schema.ts';

/** A Converse request as both Converse and ConverseStream take it (same members). */
export type ConverseInput = ConverseStreamRequest & { modelId: string };

/** The served tier's Bedrock settings, as the tier config and its name give them. */
export interface BedrockTierSettings {
  readonly serviceTier?: string | undefined;
  readonly latency?: 'standard' | 'optimized' | undefined;
}

type Json = Record<string, unknown>;

/**
 * The Bedrock model ID of a public model name on a pool: the pool's `modelIds` entry, else its
 * `upstreamModels` entry, else the public name (the same order lib/bedrock-access.ts grants).
 */
export function bedrockModelId(model: string, pool: Pick<PoolConfig, 'modelIds' | 'upstreamModels'> | undefined): string {
  return pool?.modelIds?.[model] ?? pool?.upstreamModels?.[model] ?? model;
}

/**
 * The Converse fields of the served tier: `serviceTier: {type}` from the tier's
 * `bedrock.serviceTier`, else the tier's own name; `performanceConfig: {latency}` when the tier
 * sets `bedrock.latency`.
 *
 * @example
 * tierFields('flex', undefined) // { serviceTier: { type: 'flex' } }
 * tierFields('priority', { route, priceFactor: 1, bedrock: { latency: 'optimized' } })
 * // { serviceTier: { type: 'priority' }, performanceConfig: { latency: 'optimized' } }
 */
export function tierFields(tier: TierName | undefined, tierConfig: Pick<TierConfig, 'bedrock'> | undefined): Pick<ConverseInput, 'serviceTier' | 'performanceConfig'> {
  const settings: BedrockTierSettings = tierConfig?.bedrock ?? {};
  const type = settings.serviceTier ?? tier;
  return {
    ...(type ? { serviceTier: { type: type as NonNullable<ConverseInput['serviceTier']>['type'] } } : {}),
    ...(settings.latency ? { performanceConfig: { latency: settings.latency } } : {}),
  };
}

function textOf(content: unknown, param: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return textParts(content, param).join('');
  throw new InvalidRequestError(`Invalid '${param}': expected a string or an array of text parts.`, param);
}

function textParts(parts: readonly unknown[], param: string): string[] {
  return parts.map((part, j) => {
    const p = part as Json;
    if (p.type === 'text' && typeof p.text === 'string') return p.text;
    throw new InvalidRequestError(
      `Invalid '${param}.${j}': the Bedrock route accepts text content parts only (got '${String(p.type)}').`,
      `${param}.${j}`,
    );
  });
}

function textBlocks(content: unknown, param: string): ContentBlock[] {
  if (Array.isArray(content)) return textParts(content, param).filter((t) => t.length > 0).map((text) => ({ text }));
  const text = textOf(content, param);
  return text.length > 0 ? [{ text }] : [];
}

function toolUseBlocks(toolCalls: unknown, param: string): ContentBlock[] {
  if (toolCalls === undefined || toolCalls === null) return [];
  if (!Array.isArray(toolCalls)) throw new InvalidRequestError(`Invalid '${param}': expected an array.`, param);
  return toolCalls.map((raw, j) => {
    const call = raw as Json;
    const fn = (call.function ?? {}) as Json;
    if (typeof call.id !== 'string' || typeof fn.name !== 'string') {
      throw new InvalidRequestError(`Invalid '${param}.${j}': a tool call needs an 'id' and a 'function.name'.`, `${param}.${j}`);
    }
    let input: unknown = {};
    if (typeof fn.arguments === 'string' && fn.arguments.trim() !== '') {
      try {
        input = JSON.parse(fn.arguments);
      } catch {
        throw new InvalidRequestError(`Invalid '${param}.${j}.function.arguments': not valid JSON.`, `${param}.${j}.function.arguments`);
      }
    }
    return { toolUse: { toolUseId: call.id, name: fn.name, input: input as never } };
  });
}

/** Appends blocks to the conversation, merging consecutive turns of one role (Converse alternates). */
function push(messages: Message[], role: 'user' | 'assistant', blocks: ContentBlock[]): void {
  if (blocks.length === 0) return;
  const last = messages.at(-1);
  if (last?.role === role) last.content = [...(last.content ?? []), ...blocks];
  else messages.push({ role, content: blocks });
}

/**
 * OpenAI chat messages → Converse `system` and `messages`. `system` and `developer` messages become
 * system blocks; `tool` messages become `toolResult` blocks of a user turn; assistant `tool_calls`
 * become `toolUse` blocks; consecutive turns of one role are merged.
 *
 * @throws InvalidRequestError naming the message for content the Bedrock route cannot carry
 */
export function toConverseMessages(input: readonly unknown[]): { system: SystemContentBlock[]; messages: Message[] } {
  const system: SystemContentBlock[] = [];
  const messages: Message[] = [];
  input.forEach((raw, i) => {
    const m = raw as Json;
    const param = `messages.${i}`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content, `${param}.content`);
        if (text.length > 0) system.push({ text });
        return;
      }
      case 'user':
        push(messages, 'user', textBlocks(m.content, `${param}.content`));
        return;
      case 'assistant':
        push(messages, 'assistant', [...textBlocks(m.content, `${param}.content`), ...toolUseBlocks(m.tool_calls, `${param}.tool_calls`)]);
        return;
      case 'tool': {
        if (typeof m.tool_call_id !== 'string') {
          throw new InvalidRequestError(`Invalid '${param}.tool_call_id': a tool message needs the id of the call it answers.`, `${param}.tool_call_id`);
        }
        const text = textOf(m.content, `${param}.content`);
        push(messages, 'user', [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text }] } }]);
        return;
      }
      default:
        throw new InvalidRequestError(`Invalid '${param}.role': '${String(m.role)}' is not supported on the Bedrock route.`, `${param}.role`);
    }
  });
  if (messages.length === 0) throw new InvalidRequestError('The Bedrock route needs at least one user message.', 'messages');
  return { system, messages };
}

function toolChoiceOf(choice: unknown): ToolChoice | undefined | 'none' {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { auto: {} };
  if (choice === 'none') return 'none';
  if (choice === 'required') return { any: {} };
  const named = (choice as Json).function as Json | undefined;
  if ((choice as Json).type === 'function' && typeof named?.name === 'string') return { tool: { name: named.name } };
  throw new InvalidRequestError("Invalid 'tool_choice': expected 'none', 'auto', 'required' or a named function.", 'tool_choice');
}

/**
 * OpenAI `tools` and `tool_choice` → Converse `toolConfig`. `tool_choice: "none"` drops the tools
 * unless the conversation already holds tool blocks (Converse then requires `toolConfig`), in which
 * case the tools stay with the model's own choice: Converse has no "none".
 */
export function toToolConfig(tools: unknown, toolChoice: unknown, messages: readonly Message[]): ToolConfiguration | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw new InvalidRequestError("Invalid 'tools': expected an array.", 'tools');
  const specs: Tool[] = tools.map((raw, i) => {
    const t = raw as Json;
    const fn = (t.function ?? {}) as Json;
    if (t.type !== 'function' || typeof fn.name !== 'string') {
      throw new InvalidRequestError(`Invalid 'tools.${i}': the Bedrock route supports function tools with a name.`, `tools.${i}`);
    }
    const schema = (fn.parameters as Json | undefined) ?? { type: 'object', properties: {} };
    return {
      toolSpec: {
        name: fn.name,
        ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
        inputSchema: { json: schema as never },
      },
    };
  });
  if (specs.length === 0) return undefined;
  const choice = toolChoiceOf(toolChoice);
  if (choice === 'none') {
    const hasToolBlocks = messages.some((m) => m.content?.some((b) => b.toolUse !== undefined || b.toolResult !== undefined));
    return hasToolBlocks ? { tools: specs } : undefined;
  }
  return { tools: specs, ...(choice ? { toolChoice: choice } : {}) };
}

function stopSequences(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop as string[];
  throw new InvalidRequestError("Invalid 'stop': expected a string or an array of strings.", 'stop');
}

function numberField(body: Json, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new InvalidRequestError(`Invalid '${field}': expected a number.`, field);
  return value;
}

/** The `messages` of a legacy text completion: its prompt as one user message. */
function promptMessages(prompt: unknown): unknown[] {
  const text = Array.isArray(prompt) ? (prompt.length === 1 ? prompt[0] : undefined) : prompt;
  if (typeof text !== 'string') {
    throw new InvalidRequestError("Invalid 'prompt': the Bedrock route takes one prompt string per request.", 'prompt');
  }
  return [{ role: 'user', content: text }];
}

/** What {@link toConverseInput} needs besides the body. */
export interface ConverseInputContext {
  readonly api: ApiKind;
  readonly pool?: Pick<PoolConfig, 'modelIds' | 'upstreamModels'> | undefined;
  readonly tier?: TierName | undefined;
  readonly tierConfig?: Pick<TierConfig, 'bedrock'> | undefined;
}

/**
 * A validated OpenAI body (chat or legacy text completion) → a Converse / ConverseStream input.
 * `max_completion_tokens` (else `max_tokens`), `temperature`, `top_p` and `stop` go to
 * `inferenceConfig`; fields with no Converse equivalent (`seed`, `logprobs`, `response_format`, …)
 * are not sent.
 *
 * @example
 * toConverseInput({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 },
 *   { api: 'chat', tier: 'flex', pool: { modelIds: { 'llama-3.1-8b': 'meta.llama3-1-8b-instruct-v1:0' } } })
 */
export function toConverseInput(body: Json, context: ConverseInputContext): ConverseInput {
  const model = typeof body.model === 'string' ? body.model : '';
  const source = context.api === 'text' ? promptMessages(body.prompt) : ((body.messages as unknown[] | undefined) ?? []);
  const { system, messages } = toConverseMessages(source);
  const maxTokens = numberField(body, 'max_completion_tokens') ?? numberField(body, 'max_tokens');
  const temperature = numberField(body, 'temperature');
  const topP = numberField(body, 'top_p');
  const stop = stopSequences(body.stop);
  const inferenceConfig = {
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(stop ? { stopSequences: stop } : {}),
  };
  const toolConfig = context.api === 'chat' ? toToolConfig(body.tools, body.tool_choice, messages) : undefined;
  return {
    modelId: bedrockModelId(model, context.pool),
    messages,
    ...(system.length > 0 ? { system } : {}),
    ...(Object.keys(inferenceConfig).length > 0 ? { inferenceConfig } : {}),
    ...(toolConfig ? { toolConfig } : {}),
    ...tierFields(context.tier, context.tierConfig),
  };
}
