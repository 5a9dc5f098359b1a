/**
 * Seeds the Config table from a parsed configuration's `tenants` (local runs only; a deploy
 * rejects `tenants` and keys are created with the admin CLI).
 *
 * The store is the source of truth once a tenant exists in it: seeding creates the tenants the
 * store does not have yet, and adds a configured key only when the store has never held it for
 * that tenant. So what the admin CLI changed survives a restart against a persistent store (a
 * revoked key stays revoked, a disabled tenant stays disabled, changed limits stay changed).
 * `reset: true` (`splitserve start --reseed`) puts the config's tenants back as written instead:
 * their tiers, limits and status, and every configured key live again. Key ids of seeded keys are
 * derived from the key (stable across runs).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SplitserveConfig } from '../core/config.ts';
import { ConfigTable } from './config-table.ts';
import type { TableNames } from './tables.ts';

/** What {@link seedFromConfig} did. */
export interface SeedResult {
  /** Tenants written from the config (created, or reset). */
  readonly tenants: number;
  /** Configured tenants that were already in the store and were left as stored. */
  readonly kept: number;
  /** Keys written. */
  readonly keys: number;
}

/** Options of {@link seedFromConfig}. */
export interface SeedOptions {
  /**
   * Overwrite the configured tenants and re-add their keys, even revoked ones.
   * @default false (create what is missing, change nothing that exists)
   */
  readonly reset?: boolean;
}

/**
 * One line on what seeding did, for start-up progress.
 *
 * @example
 * seedingSummary({ tenants: 0, kept: 2, keys: 0 });
 * // '0 tenants seeded, 2 kept as stored (--reseed resets them from the config)'
 */
export function seedingSummary(seeded: SeedResult): string {
  const kept = seeded.kept > 0 ? `, ${seeded.kept} kept as stored (--reseed resets ${seeded.kept === 1 ? 'it' : 'them'} from the config)` : '';
  return `${seeded.tenants} ${seeded.tenants === 1 ? 'tenant' : 'tenants'} seeded${kept}`;
}

/**
 * Writes each configured tenant the store does not have, and the SHA-256 of each configured key
 * it has never held.
 *
 * @example
 * const seeded = await seedFromConfig(store.client, { config: 'splitserve-config' }, config);
 * // seeded.kept: tenants left as the admin CLI last set them
 */
export async function seedFromConfig(
  client: DynamoDBClient,
  tableNames: Pick<TableNames, 'config'>,
  config: Pick<SplitserveConfig, 'tenants'>,
  options: SeedOptions = {},
): Promise<SeedResult> {
  const table = new ConfigTable(client, tableNames.config);
  let tenants = 0;
  let kept = 0;
  let keys = 0;
  for (const t of config.tenants) {
    const wanted = { id: t.id, tiers: t.tiers, limits: t.limits, disabled: t.disabled };
    const tenant = options.reset ? await table.putTenant(wanted) : await table.createTenantIfMissing(wanted);
    if (tenant) tenants += 1;
    else kept += 1;
    for (const key of t.apiKeys) {
      if (!options.reset && (await table.hasHeldKey(t.id, key))) continue;
      await table.addKey(t.id, key, { derivedId: true, ...(tenant ? { tenant } : {}) });
      keys += 1;
    }
  }
  return { tenants, kept, keys };
}
