/**
 * Engine priority: the tier of a request reaches the inference engine as the request's
 * `priority` field, so an engine that schedules by priority serves the premium tier first even
 * when one fleet serves every tier.
 *
 * - vLLM: `priority` (int, default 0), lower is scheduled first, first come first served among
 *   equals; only with `--scheduling-policy priority`. Without it vLLM refuses any value other
 *   than 0: "Got priority N but Priority scheduling is not enabled." (a 400, or for a stream an
 *   error event right after the 200).
 * - SGLang: `priority` (int) with `--enable-priority-scheduling`; higher values go first unless
 *   the engine runs `--schedule-low-priority-values-first`; without priority scheduling the
 *   field is ignored (or, with `--abort-on-priority-when-disabled`, the request is aborted).
 *
 * The gateway speaks vLLM's convention (lower first: priority −10, default 0, flex 10, or a
 * tier's `enginePriority`) and negates the value for a `high-first` engine. An endpoint that
 * refuses the field is remembered (the pool directory) and served without it from then on.
 */
import type { PoolConfig, PriorityOrder, TierConfig, TierName } from '../core/config.ts';
import { InvalidRequestError } from '../core/errors.ts';
import { tierEnginePriority } from '../routing/tier-engine-priority.ts';
import { copyWithout } from './copy-without.ts';
import type { EnginePriority } from '../core/backend-ports.ts';

/** The request field the engines read. */
export const PRIORITY_FIELD = 'priority';
const PRIORITY_ONLY: ReadonlySet<string> = new Set([PRIORITY_FIELD]);

/** Whether a pool's endpoints are the hosted OpenAI API, which refuses fields it does not know. */
export function isHostedOpenAI(pool: PoolConfig): boolean {
  return (pool.endpoints ?? []).some((url) => /^https?:\/\/api\.openai\.com(?::\d+)?(?:\/|$)/i.test(url));
}

/**
 * Whether the pool sends engine priorities: its `enginePriority` setting, else on for the
 * vllm-nixl, sglang and openai protocols (off at api.openai.com), never for Bedrock.
 */
export function sendsEnginePriority(pool: PoolConfig): boolean {
  if (pool.protocol === 'bedrock') return false;
  return pool.enginePriority ?? !isHostedOpenAI(pool);
}

/** Which values the pool's engine schedules first: the pool's setting, else SGLang's default for sglang and vLLM's otherwise. */
export function priorityOrderOf(pool: PoolConfig): PriorityOrder {
  return pool.priorityOrder ?? (pool.protocol === 'sglang' ? 'high-first' : 'low-first');
}

/**
 * The `priority` value to send to one of the pool's engines for a tier, in that engine's own
 * polarity; undefined when the pool sends none.
 *
 * @example
 * enginePriorityFor(vllmPool, 'priority', tiers.priority);   // -10
 * enginePriorityFor(sglangPool, 'priority', tiers.priority); // 10 (SGLang schedules high values first)
 */
export function enginePriorityFor(pool: PoolConfig, tier: TierName, config: TierConfig | undefined): number | undefined {
  if (!sendsEnginePriority(pool)) return undefined;
  const value = tierEnginePriority(tier, config);
  return priorityOrderOf(pool) === 'high-first' ? -value || 0 : value;
}

/**
 * Whether a failed call is the engine refusing the `priority` field: a 400 whose message names
 * it (vLLM's "Got priority N but Priority scheduling is not enabled.", or an API's "Unrecognized
 * request argument supplied: priority"). Any 400 that names the field counts: at worst such a
 * request is sent once more without it, and the endpoint no longer gets it.
 */
export function isPriorityRefusal(err: unknown): boolean {
  return err instanceof InvalidRequestError && /\bpriority\b/i.test(err.message);
}

/**
 * Sends `body` with the engine priority set, and once more without it if the engine refuses the
 * field; `send` must settle only once the engine has accepted or refused the request (for a
 * stream: once its first event arrived). `body` is the caller's own copy of the upstream body:
 * the field is set on it (the resend goes without it, on a copy).
 *
 * @example
 * return withEnginePriority(call.enginePriority, body, (b) => postTo(call, b).then(read));
 */
export function withEnginePriority<T>(priority: EnginePriority | undefined, body: Record<string, unknown>, send: (body: Record<string, unknown>) => Promise<T>): Promise<T> {
  if (!priority) return send(body);
  body[PRIORITY_FIELD] = priority.value;
  return send(body).catch((err: unknown) => {
    if (!isPriorityRefusal(err)) throw err;
    priority.refused((err as Error).message);
    return send(copyWithout(body, PRIORITY_ONLY));
  });
}
