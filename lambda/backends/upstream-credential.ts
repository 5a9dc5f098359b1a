/**
 * A pool's upstream credential, cached with a bound (docs/deploy.md, Upstream credentials):
 *
 * - read from its source on first use; callers that arrive while a read is under way share it;
 * - used for `cacheMs` (default 5 minutes) at most; a call after {@link REFRESH_AHEAD} of that
 *   starts a read in the background and goes on with the value it has, so the cache is renewed
 *   before it runs out while requests keep coming (Lambda runs no timers between invocations);
 *   once the bound has passed, the call waits for a fresh read, and a failed read fails the call;
 * - when an endpoint refuses the value (401/403: the secret was rotated), {@link CachedCredential.refused}
 *   reads it again, once for every caller that saw the same value refused, and the call is sent
 *   once more (backend-target.ts). That is how a rotation is picked up without a redeploy.
 *
 * Reads are spaced: after a failed read the source is not read again for `minReadIntervalMs`
 * (callers get that failure), nor after a read made on a refusal (callers whose call is refused
 * again get the value just read, and their call fails), so an outage or a wrong secret costs the
 * source one read per interval, not one per request. Failed reads are logged as
 * warnings with the pool, the source and the reason; the value is never logged.
 */
import type { CredentialSourceName } from '../core/config.ts';
import type { GatewayLogger } from '../core/logger.ts';
import type { CredentialHeader, UpstreamCredential } from '../core/backend-ports.ts';
import { CredentialUnavailableError } from './credential-errors.ts';

/** Where a credential's value is read (credential-sources.ts). */
export interface CredentialSource {
  readonly name: CredentialSourceName;
  /**
   * Reads the current value.
   *
   * @throws CredentialUnavailableError when it cannot (other errors are taken as transient)
   */
  read(): Promise<string>;
}

/** Fraction of the cache bound after which a call starts a background read. */
export const REFRESH_AHEAD = 0.8;

/** Shortest time (ms) between two reads after a failure or a refusal, by default. */
export const MIN_READ_INTERVAL_MS = 1000;

/** Options of {@link CachedCredential}. */
export interface CachedCredentialOptions {
  /** The pool, for errors and logs. */
  readonly pool: string;
  /** The header it is sent in (`authorization` sends `Bearer <value>`). */
  readonly header: string;
  /** How long (ms) a value is used at most. */
  readonly cacheMs: number;
  /** @default MIN_READ_INTERVAL_MS */
  readonly minReadIntervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  readonly logger: GatewayLogger;
}

/**
 * The header a value is sent as: `Authorization: Bearer <value>`, or the raw value in any other
 * header.
 *
 * @example
 * credentialHeader('Authorization', 'tok'); // { name: 'authorization', value: 'Bearer tok' }
 * credentialHeader('x-api-key', 'tok');     // { name: 'x-api-key', value: 'tok' }
 */
export function credentialHeader(header: string, value: string): CredentialHeader {
  const name = header.toLowerCase();
  return { name, value: name === 'authorization' ? `Bearer ${value}` : value };
}

/** Visible ASCII and spaces, the characters every HTTP stack takes in a header value. */
const HEADER_VALUE = /^[\x20-\x7e]+$/;

/**
 * A {@link CredentialSource}'s value cached with a bound, shared by every call to one pool. The
 * value is held in ES private fields, so serialising or inspecting the object (a target logged
 * whole, a status page) never shows it: it serialises as `{ pool, source }`.
 */
export class CachedCredential implements UpstreamCredential {
  #current: { readonly header: CredentialHeader; readonly at: number } | undefined;
  #reading: Promise<CredentialHeader> | undefined;
  private failure: { readonly error: CredentialUnavailableError; readonly at: number } | undefined;
  /** When a refusal last made a read. */
  private refusalReadAt: number | undefined;
  private readonly now: () => number;
  private readonly minReadIntervalMs: number;

  constructor(
    private readonly source: CredentialSource,
    private readonly options: CachedCredentialOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.minReadIntervalMs = options.minReadIntervalMs ?? MIN_READ_INTERVAL_MS;
  }

  /** What a log or a status page may show of it: the pool and where the value is read. */
  toJSON(): { readonly pool: string; readonly source: string } {
    return { pool: this.options.pool, source: this.source.name };
  }

  header(): Promise<CredentialHeader> {
    const current = this.#current;
    if (current) {
      const age = this.now() - current.at;
      if (age < this.options.cacheMs) {
        // Renew ahead of the bound; a failure is logged and the value in hand stays until the bound.
        if (age >= this.options.cacheMs * REFRESH_AHEAD && !this.#reading && !this.failedRecently()) this.read().catch(() => undefined);
        return Promise.resolve(current.header);
      }
    }
    return this.read();
  }

  refused(sent: CredentialHeader): Promise<CredentialHeader> {
    if (this.#reading) return this.#reading;
    const current = this.#current;
    // Another caller already read a new value: no new read.
    if (current && current.header.value !== sent.value) return Promise.resolve(current.header);
    // A refusal just read the value again, and it is refused still: not again within the interval.
    const now = this.now();
    if (current && this.refusalReadAt !== undefined && now - this.refusalReadAt < this.minReadIntervalMs) return Promise.resolve(current.header);
    this.refusalReadAt = now;
    return this.read();
  }

  /** One read at a time; a failure is kept (and answered) for the minimum interval. */
  private read(): Promise<CredentialHeader> {
    if (this.#reading) return this.#reading;
    if (this.failure && this.failedRecently()) return Promise.reject(this.failure.error);
    const { pool, header, logger } = this.options;
    const reading = this.source.read().then(
      (raw) => {
        const value = raw.trim();
        if (!HEADER_VALUE.test(value)) {
          throw new CredentialUnavailableError(pool, this.source.name, value === '' ? 'the value is empty' : 'the value holds characters a header cannot carry', false);
        }
        const fresh = credentialHeader(header, value);
        this.#current = { header: fresh, at: this.now() };
        this.failure = undefined;
        return fresh;
      },
    ).catch((err: unknown) => {
      const error =
        err instanceof CredentialUnavailableError ? err : new CredentialUnavailableError(pool, this.source.name, err instanceof Error ? `${err.name}: ${err.message}` : 'unknown failure', true);
      this.failure = { error, at: this.now() };
      logger.warn('could not read a pool credential', { pool, source: this.source.name, reason: error.reason, transient: error.retryable });
      throw error;
    }).finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    this.#reading = reading;
    return reading;
  }

  private failedRecently(): boolean {
    return this.failure !== undefined && this.now() - this.failure.at < this.minReadIntervalMs;
  }
}
