/**
 * Token accounting and deterministic output text: prompt tokens estimated from the request's text
 * (≈ 4 characters a token), completion tokens drawn from a small vocabulary with a seeded PRNG,
 * and tool-call arguments generated from the tool's JSON schema.
 */
import { randomInt } from './prng.ts';
import type { Random } from './prng.ts';

const VOCABULARY = [
  'the', 'model', 'token', 'prefill', 'decode', 'cache', 'fast', 'wafer', 'engine', 'stream',
  'batch', 'queue', 'latency', 'value', 'key', 'layer', 'route', 'tier', 'answer', 'request',
  'simple', 'result', 'data', 'signal', 'north', 'river', 'stone', 'light', 'green', 'quiet',
  'and', 'of', 'to', 'in', 'is', 'on', 'with', 'for', 'a', 'it',
] as const;

/** The text of a prompt (`prompt`) or a conversation (`messages`), concatenated. */
export function promptText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  const prompt = body['prompt'];
  if (typeof prompt === 'string') parts.push(prompt);
  else if (Array.isArray(prompt)) for (const p of prompt) parts.push(typeof p === 'string' ? p : String(p));
  const messages = body['messages'];
  if (Array.isArray(messages)) {
    for (const m of messages) {
      if (!m || typeof m !== 'object') continue;
      const content = (m as Record<string, unknown>)['content'];
      if (typeof content === 'string') parts.push(content);
      else if (Array.isArray(content)) {
        for (const c of content) {
          const text = c && typeof c === 'object' ? (c as Record<string, unknown>)['text'] : undefined;
          if (typeof text === 'string') parts.push(text);
        }
      }
    }
  }
  return parts.join('\n');
}

/**
 * Prompt tokens of a body: token-id arrays count one per id, text ≈ characters / 4, at least 1.
 */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  const prompt = body['prompt'];
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'number')) {
    return prompt.length;
  }
  return Math.max(1, Math.ceil(promptText(body).length / 4));
}

/** `count` output tokens; the first has no leading space, the others do. */
export function generateTokens(rnd: Random, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const word = VOCABULARY[randomInt(rnd, 0, VOCABULARY.length - 1)] ?? 'the';
    out.push(i === 0 ? word : ` ${word}`);
  }
  return out;
}

/** A function tool the model is asked to call. */
export interface ToolTarget {
  readonly name: string;
  readonly parameters: Record<string, unknown> | undefined;
}

/**
 * The tool to call when the request forces one: `tool_choice: "required"` (first tool) or
 * `tool_choice: {type: "function", function: {name}}`; otherwise undefined (answer with text).
 */
export function forcedTool(body: Record<string, unknown>): ToolTarget | undefined {
  const tools = body['tools'];
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const functions = tools
    .map((t: unknown) => (t && typeof t === 'object' ? (t as Record<string, unknown>)['function'] : undefined))
    .filter((f): f is Record<string, unknown> => !!f && typeof f === 'object' && typeof (f as Record<string, unknown>)['name'] === 'string');
  const choice = body['tool_choice'];
  let chosen: Record<string, unknown> | undefined;
  if (choice === 'required') chosen = functions[0];
  else if (choice && typeof choice === 'object') {
    const fn = (choice as Record<string, unknown>)['function'];
    const name = fn && typeof fn === 'object' ? (fn as Record<string, unknown>)['name'] : undefined;
    chosen = functions.find((f) => f['name'] === name);
  }
  if (!chosen) return undefined;
  const params = chosen['parameters'];
  return { name: chosen['name'] as string, parameters: params && typeof params === 'object' ? (params as Record<string, unknown>) : undefined };
}

/** JSON arguments for `tool`, one value per schema property, drawn from `rnd`. */
export function toolArguments(rnd: Random, tool: ToolTarget): string {
  const props = tool.parameters?.['properties'];
  const args: Record<string, unknown> = {};
  if (props && typeof props === 'object') {
    for (const [key, schema] of Object.entries(props as Record<string, unknown>)) {
      const type = schema && typeof schema === 'object' ? (schema as Record<string, unknown>)['type'] : undefined;
      if (type === 'number' || type === 'integer') args[key] = randomInt(rnd, 0, 100);
      else if (type === 'boolean') args[key] = rnd() < 0.5;
      else args[key] = generateTokens(rnd, 2).join('');
    }
  }
  return JSON.stringify(args);
}

/** Split `text` into fragments of about `size` characters (the streamed argument deltas). */
export function splitFragments(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}
