/**
 * Validation of what the gateway itself uses in a request body. Every other field (`tools`,
 * `tool_choice`, `response_format`, `seed`, `logprobs`, `stop`, vendor extensions, …) passes
 * through to the backend untouched: the schemas are `loose`.
 */
import * as z from 'zod/mini';
import './zod.ts';
import { InvalidRequestError } from './errors.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth.ts';

/** Values of `service_tier` a client may send; `fast` is an alias of `priority`. */
export const SERVICE_TIER_VALUES = ['auto', 'default', 'flex', 'priority', 'fast'] as const;
export type ServiceTierValue = (typeof SERVICE_TIER_VALUES)[number];

const contentPart = z.looseObject({ type: z.string() });
const message = z.looseObject({
  role: z.string().check(z.minLength(1)),
  content: z.optional(z.union([z.string(), z.array(contentPart), z.null()])),
});

const positiveInt = z.int().check(z.positive());

const common = {
  model: z.string().check(z.minLength(1, 'model is required'), z.maxLength(256)),
  stream: z.optional(z.boolean()),
  stream_options: z.nullish(z.looseObject({ include_usage: z.optional(z.boolean()) })),
  max_tokens: z.nullish(positiveInt),
  n: z.nullish(z.literal(1, 'only n=1 is supported')),
  service_tier: z.nullish(z.enum(SERVICE_TIER_VALUES)),
  kv_transfer_params: z.optional(z.never('kv_transfer_params is set by the gateway')),
  // The engine's scheduling priority follows the tier served (lambda/backends/engine-priority.ts):
  // a client that set it could jump every other tenant's queue.
  priority: z.optional(z.never('the engine priority is set by the gateway from service_tier')),
};

/** `POST /v1/chat/completions` body. */
export const chatCompletionSchema = z.looseObject({
  ...common,
  messages: z.array(message).check(z.minLength(1, 'messages must contain at least one message')),
  max_completion_tokens: z.nullish(positiveInt),
});

/** `POST /v1/completions` (legacy text completions) body. */
export const completionSchema = z.looseObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).check(z.minLength(1))]),
});

/** The two generation APIs; `chat` = `/v1/chat/completions`, `text` = `/v1/completions`. */
export const API_KINDS = { chat: 'chat', text: 'text' } as const;
export type ApiKind = (typeof API_KINDS)[keyof typeof API_KINDS];

/** Upstream path of each API kind. */
export const API_PATHS: Record<ApiKind, string> = { chat: '/v1/chat/completions', text: '/v1/completions' };

/** A validated generation request body: the client's JSON with the fields the gateway reads checked. */
export type GenerationBody = Record<string, unknown> & {
  model: string;
  stream?: boolean | null | undefined;
  max_tokens?: number | null | undefined;
  max_completion_tokens?: number | null | undefined;
  service_tier?: ServiceTierValue | null | undefined;
  stream_options?: { include_usage?: boolean | undefined } | null | undefined;
};

/**
 * Parses and validates a request body, throwing a 400 {@link InvalidRequestError} whose `param`
 * names the first bad field (as OpenAI does). A body nested deeper than {@link MAX_JSON_DEPTH} is
 * refused before it is parsed, so nothing recursive ever walks it.
 */
export function parseGenerationBody(kind: ApiKind, raw: string): GenerationBody {
  if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) {
    throw new InvalidRequestError(`The JSON body of your request is nested too deeply: at most ${MAX_JSON_DEPTH} levels of arrays and objects are accepted.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InvalidRequestError('We could not parse the JSON body of your request. The body must be a JSON object.');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidRequestError('The body of your request must be a JSON object.');
  }
  const schema = kind === 'chat' ? chatCompletionSchema : completionSchema;
  const result = schema.safeParse(json);
  if (result.success) return result.data as GenerationBody;
  const issue = result.error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join('.') : null;
  const message =
    param === 'service_tier'
      ? `Invalid value for 'service_tier': expected one of ${SERVICE_TIER_VALUES.join(', ')}.`
      : `Invalid ${param ? `'${param}'` : 'request'}: ${issue.message}`;
  throw new InvalidRequestError(message, param);
}
