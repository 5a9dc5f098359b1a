/**
 * The typed error of a pool credential that cannot be read. The client sees an OpenAI-shaped 502
 * (the credential is missing or refused to the gateway: someone must fix it) or 503 (its store is
 * unavailable for now: retry), naming the pool and nothing else; the operator's logs get the
 * reason. Neither ever holds the credential's value.
 */
import type { CredentialSourceName } from '../core/config.ts';
import { UpstreamError } from '../core/errors.ts';

/** A pool's credential could not be read from its source. */
export class CredentialUnavailableError extends UpstreamError {
  /**
   * @param pool - the pool whose credential it is
   * @param source - where the pool's `auth` says it is read
   * @param reason - why, for logs only (an SDK error's name and message, or what was wrong with
   *   the value: never the value itself)
   * @param transient - the source is unavailable for now (throttled, 5xx, unreachable): a 503
   *   the plan may retry; otherwise a 502 that retrying cannot mend
   */
  constructor(
    pool: string,
    public readonly source: CredentialSourceName,
    public readonly reason: string,
    transient: boolean,
  ) {
    super(
      transient
        ? `The ${pool} backend's credential is unavailable for now. Please retry shortly.`
        : `The ${pool} backend's credential could not be read; the gateway's operator must fix the pool's "auth" setting.`,
      transient ? 503 : 502,
      transient,
      pool,
    );
  }
}
