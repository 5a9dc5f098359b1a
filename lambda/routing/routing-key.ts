/**
 * The routing key of a request, computed once at the edge and carried in the plan state (both
 * executors see it): what a pool with `affinity` keeps on one endpoint (prefix-affinity.ts).
 *
 * - Session: the `x-session-id` header, else the OpenAI `prompt_cache_key` field (OpenAI's own
 *   cache-routing hint), else the `user` field (which it replaces): `s:` + a hash of the tenant and
 *   the value, so a session's turns meet their own history in the engine's prefix cache, and two
 *   tenants' equal session names are two keys. The value itself is never kept.
 * - Otherwise the prompt's prefix: `p:` + a hash of the conversation up to and including its
 *   first user message (the system prompt and the opening question, which every later turn of
 *   the conversation repeats unchanged), at most {@link PREFIX_KEY_CHARS} characters of it; for
 *   `/v1/completions`, the first characters of the prompt (the first prompt of a batch). A
 *   conversation's turns therefore share a key without any session id; different conversations
 *   behind one long common system prompt share one too (and their common blocks).
 *
 * Why a hash of the prompt and not the engines' own KV events (vLLM and SGLang can publish which
 * blocks they store, over ZMQ): a gateway instance lives for one request in Lambda and has no
 * long-lived subscription to keep an index of every engine's blocks in step, and the engines'
 * ZMQ sockets are not reachable from it; the hash needs nothing but the request.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import '../core/zod.ts';
import type { SplitserveConfig } from '../core/config.ts';
import { InvalidRequestError } from '../core/errors.ts';

/** The request header that names a session (sent by clients that want session affinity). */
export const SESSION_HEADER = 'x-session-id';

/** Characters of the prompt's opening the prefix key covers (≈ 1,000 tokens at 4 characters a token). */
export const PREFIX_KEY_CHARS = 4096;

/** Longest accepted session id (header or `user`). */
export const MAX_SESSION_CHARS = 256;

const sessionSchema = z.string().check(z.minLength(1), z.maxLength(MAX_SESSION_CHARS));

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** The text of a message's content (text parts joined; other parts by their JSON). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p: unknown) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : JSON.stringify(p))).join('\n');
  }
  return content == null ? '' : JSON.stringify(content);
}

/** The opening of a request's prompt the prefix key hashes (at most {@link PREFIX_KEY_CHARS}). */
export function promptOpening(body: Record<string, unknown>): string {
  const messages = body['messages'];
  let text = '';
  if (Array.isArray(messages)) {
    for (const m of messages) {
      const role = m && typeof m === 'object' ? String((m as { role?: unknown }).role) : '';
      text += `${role}\u0000${contentText((m as { content?: unknown } | null)?.content)}\u0001`;
      if (text.length >= PREFIX_KEY_CHARS || role === 'user') break;
    }
  } else {
    const prompt = body['prompt'];
    const first: unknown = Array.isArray(prompt) ? prompt[0] : prompt;
    text = typeof first === 'string' ? first : Array.isArray(prompt) ? prompt.slice(0, PREFIX_KEY_CHARS / 4).join(',') : '';
  }
  return text.slice(0, PREFIX_KEY_CHARS);
}

/** Body fields that name a session, in order of preference. */
const SESSION_FIELDS = ['prompt_cache_key', 'user'] as const;

/**
 * The session a request names: its `x-session-id` header, else its `prompt_cache_key` field,
 * else its `user` field (a field that is not a string of 1 to {@link MAX_SESSION_CHARS}
 * characters is passed over).
 *
 * @throws InvalidRequestError when the header is empty or longer than {@link MAX_SESSION_CHARS}
 */
export function sessionOf(header: string | undefined, body: Record<string, unknown>): string | undefined {
  if (header !== undefined) {
    if (!sessionSchema.safeParse(header).success) {
      throw new InvalidRequestError(`The ${SESSION_HEADER} header must be 1 to ${MAX_SESSION_CHARS} characters.`, SESSION_HEADER, 'invalid_value');
    }
    return header;
  }
  for (const field of SESSION_FIELDS) {
    const value = body[field];
    if (typeof value === 'string' && sessionSchema.safeParse(value).success) return value;
  }
  return undefined;
}

const ROUTES_BY_KEY = new WeakMap<SplitserveConfig, boolean>();

/**
 * Whether any pool of `config` routes by key (has `affinity`): without one, no key is computed
 * (3 to 9 µs a request, for a one-line to a 4 KB prompt). Cached per config object.
 */
export function routesByKey(config: SplitserveConfig): boolean {
  let found = ROUTES_BY_KEY.get(config);
  if (found === undefined) ROUTES_BY_KEY.set(config, (found = Object.values(config.pools).some((pool) => pool.affinity !== undefined)));
  return found;
}

/**
 * The routing key of a request: `s:…` for a session, `p:…` for the prompt's prefix; undefined
 * when there is no prompt text to hash.
 *
 * @example
 * routingKey('tenant-a', undefined, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }); // 'p:…'
 */
export function routingKey(tenantId: string, session: string | undefined, body: Record<string, unknown>): string | undefined {
  if (session !== undefined) return `s:${digest(`${tenantId}\u0000${session}`)}`;
  const opening = promptOpening(body);
  // The tenant is part of the prefix key too: two tenants sending the same opening are not sent
  // to the same engine on purpose, so neither can learn from a cache hit what the other sent.
  return opening.length > 0 ? `p:${digest(`${tenantId}\u0000${opening}`)}` : undefined;
}
