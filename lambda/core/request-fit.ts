/**
 * Requests that no window of a tenant's limits can ever hold, and the 429 they get: one check
 * shared by admission (lambda/store/admission.ts) and the request path, which runs it before
 * overload placement (lambda/core/generate.ts) so that such a request is told it can never fit
 * (no `retry-after`, `x-should-retry: false`) rather than shed with a `retry-after` and retried
 * forever.
 */
import type { TenantLimits, TierName } from './config.ts';
import { InsufficientQuotaError, RATE_LIMIT_TYPES, RequestTooLargeError } from './errors.ts';

/** What a request reserves: tokens (per minute) and cost units (per month). */
export interface Reservation {
  readonly tokens: number;
  readonly cost: number;
}

/** OpenAI's closing advice on a request too large for a limit. */
const REDUCE = 'The input or output tokens must be reduced in order to run successfully.';

function limitText(limit: number, share: number | undefined, unit = ''): string {
  return share !== undefined && share < limit ? `Limit ${limit}${unit} (${share}${unit} on each counter shard)` : `Limit ${limit}${unit}`;
}

/**
 * The refusal of a request whose reservation alone exceeds a limit of its tier (the month's
 * budget in cost units, or the tokens per minute); undefined when it may fit. `share` is the
 * counter shard's part of the limits when admission shards them (a request above a shard's share
 * never fits either).
 *
 * @example
 * const refusal = neverFitRefusal('default', { tpm: 2000 }, { tokens: 1e12, cost: 1e12 });
 * // RequestTooLargeError: "Request too large for tier default on tokens per min (TPM): Limit 2000, Requested 1000000000000. …"
 */
export function neverFitRefusal(
  tier: TierName,
  limits: TenantLimits | undefined,
  reserve: Reservation,
  share: TenantLimits = limits ?? {},
): RequestTooLargeError | InsufficientQuotaError | undefined {
  if (!limits) return undefined;
  const month = share.monthlyTokens ?? limits.monthlyTokens;
  if (limits.monthlyTokens !== undefined && month !== undefined && reserve.cost > month) {
    return new InsufficientQuotaError(
      `Request too large for the monthly budget on tier ${tier}: ${limitText(limits.monthlyTokens, share.monthlyTokens, ' cost units')}, Requested ${reserve.cost}. ${REDUCE}`,
    );
  }
  const tpm = share.tpm ?? limits.tpm;
  if (limits.tpm !== undefined && tpm !== undefined && reserve.tokens > tpm) {
    return new RequestTooLargeError(
      `Request too large for tier ${tier} on tokens per min (TPM): ${limitText(limits.tpm, share.tpm)}, Requested ${reserve.tokens}. ${REDUCE}`,
      RATE_LIMIT_TYPES.tokens,
      { 'x-ratelimit-limit-tokens': String(limits.tpm) },
    );
  }
  return undefined;
}
