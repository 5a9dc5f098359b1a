/**
 * Resolves an API key's SHA-256 to its principal: one strongly consistent `GetItem` of the key
 * lookup item (config-items.ts) on a cache miss, nothing on a hit.
 *
 * Revocation bound: a positive answer is served from the cache for at most `ttlMs` (default
 * 5000 ms) after it was read, so a revoked or disabled key, a disabled tenant or new limits take
 * effect within `ttlMs` on every instance. Unknown keys are cached for `negativeTtlMs` (default
 * 1000 ms), so a flood of bad keys costs at most one read per distinct key per second, and a
 * newly created key works everywhere within that bound. The cache holds at most `maxEntries`
 * (default 10,000) and evicts the oldest entry first; concurrent misses on one key share a read.
 * Neither keys nor hashes are ever logged.
 */
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KeyResolver, Principal } from '../core/ports.ts';
import { decodePrincipal, keyLookupItemKey } from './config-items.ts';
import { storeFailure } from './errors.ts';

/** Options of {@link DynamoKeyResolver}. */
export interface DynamoKeyResolverOptions {
  /** How long a found principal is served from the cache (the revocation bound). @default 5000 */
  readonly ttlMs?: number;
  /** How long an unknown key is remembered as unknown. @default 1000 */
  readonly negativeTtlMs?: number;
  /** Maximum cached keys (found and unknown); the oldest is evicted first. @default 10000 */
  readonly maxEntries?: number;
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
}

interface Entry {
  readonly principal: Principal | undefined;
  readonly expiresAt: number;
}

/**
 * A {@link KeyResolver} over the Config table with a bounded cache.
 *
 * @example
 * const resolver = new DynamoKeyResolver(client, process.env.CONFIG_TABLE!, { ttlMs: 5000 });
 * const principal = await resolver.resolve(hashApiKey(token)); // undefined → 401
 */
export class DynamoKeyResolver implements KeyResolver {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Principal | undefined>>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoKeyResolverOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.negativeTtlMs = options.negativeTtlMs ?? 1000;
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** The principal behind a key hash, or undefined for an unknown (or revoked) key. */
  resolve(keyHash: string): Promise<Principal | undefined> {
    const hit = this.cache.get(keyHash);
    if (hit && hit.expiresAt > this.now()) return Promise.resolve(hit.principal);
    const pending = this.inflight.get(keyHash);
    if (pending) return pending;
    const read = this.read(keyHash).finally(() => this.inflight.delete(keyHash));
    this.inflight.set(keyHash, read);
    return read;
  }

  /** Number of cached entries (for metrics). */
  get size(): number {
    return this.cache.size;
  }

  private async read(keyHash: string): Promise<Principal | undefined> {
    const out = await this.client
      .send(new GetItemCommand({ TableName: this.tableName, Key: keyLookupItemKey(keyHash), ConsistentRead: true }))
      .catch((err: unknown) => {
        throw storeFailure(err);
      });
    const principal = out.Item ? decodePrincipal(out.Item) : undefined;
    this.remember(keyHash, principal);
    return principal;
  }

  private remember(keyHash: string, principal: Principal | undefined): void {
    this.cache.delete(keyHash);
    while (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    this.cache.set(keyHash, { principal, expiresAt: this.now() + (principal ? this.ttlMs : this.negativeTtlMs) });
  }
}
