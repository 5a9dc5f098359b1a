/**
 * Seeds the Config table from a parsed configuration's `tenants` (local runs only; a deploy
 * rejects `tenants` and keys are created with the admin CLI). Idempotent: re-seeding replaces the
 * tenants and their keys' lookup items; key ids of seeded keys are stable across runs.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SplitserveConfig } from '../core/config.ts';
import { ConfigTable } from './config-table.ts';
import type { TableNames } from './tables.ts';

/** What {@link seedFromConfig} wrote. */
export interface SeedResult {
  readonly tenants: number;
  readonly keys: number;
}

/**
 * Writes each configured tenant and the SHA-256 of each of its API keys.
 *
 * @example
 * await seedFromConfig(store.client, { config: 'splitserve-config', usage: 'splitserve-usage' }, config);
 */
export async function seedFromConfig(
  client: DynamoDBClient,
  tableNames: Pick<TableNames, 'config'>,
  config: Pick<SplitserveConfig, 'tenants'>,
): Promise<SeedResult> {
  const table = new ConfigTable(client, tableNames.config);
  let keys = 0;
  for (const t of config.tenants) {
    const tenant = await table.putTenant({ id: t.id, tiers: t.tiers, limits: t.limits, disabled: t.disabled });
    for (const key of t.apiKeys) {
      await table.addKey(t.id, key, { derivedId: true, tenant });
      keys += 1;
    }
  }
  return { tenants: config.tenants.length, keys };
}
