/**
 * Seeding from the config: creates what the store does not have, never overwrites what the admin
 * CLI changed (a restart against a persistent store keeps revocations, disabled tenants and
 * changed limits), and `reset` puts the config back on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../lambda/core/auth.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { revokeKey, setLimits, setTenantDisabled, listKeys } from '../../lambda/store/admin.ts';
import { ConfigTable } from '../../lambda/store/config-table.ts';
import { DynamoKeyResolver } from '../../lambda/store/key-resolver.ts';
import { seedFromConfig, seedingSummary } from '../../lambda/store/seed.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { freshTables } from './helpers.ts';

const KEY_A = 'sk-ss-test-seed-a-0123456789abcdef0123456789';
const KEY_B = 'sk-ss-test-seed-b-0123456789abcdef0123456789';

const config = (apiKeys: string[] = [KEY_A]) =>
  parseConfig({
    pools: { gpu: { protocol: 'openai', endpoints: ['http://127.0.0.1:9'] } },
    models: { m: { pools: ['gpu'] } },
    tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
    tenants: [{ id: 'acme', apiKeys, tiers: ['default'], limits: { default: { rpm: 100 } } }],
  });

describe('seedFromConfig', () => {
  let store: EmbeddedDynamo;
  beforeAll(async () => {
    store = await startEmbeddedDynamo();
  });
  afterAll(async () => {
    await store?.close();
  });

  async function resolve(tables: TableNames, key: string) {
    // A fresh resolver each time: no cache between the admin change and the check.
    return new DynamoKeyResolver(store.client, tables.config, { ttlMs: 0 }).resolve(hashApiKey(key));
  }

  /** Fresh tables seeded from the config, then changed by the admin: its key revoked, the tenant disabled. */
  async function seededThenRevokedAndDisabled(): Promise<TableNames> {
    const tables = await freshTables(store);
    await seedFromConfig(store.client, tables, config());
    const ctx = { client: store.client, tables };
    const [key] = await listKeys(ctx, 'acme');
    await revokeKey(ctx, 'acme', key!.keyId);
    await setTenantDisabled(ctx, 'acme', true);
    return tables;
  }

  it('creates the tenant and its keys once; a second run writes nothing', async () => {
    const tables = await freshTables(store);
    expect(await seedFromConfig(store.client, tables, config())).toEqual({ tenants: 1, kept: 0, keys: 1 });
    expect(await seedFromConfig(store.client, tables, config())).toEqual({ tenants: 0, kept: 1, keys: 0 });
    expect((await resolve(tables, KEY_A))?.tenant.id).toBe('acme');
  });

  it('keeps a revoked key revoked, a disabled tenant disabled and changed limits across a re-seed', async () => {
    const tables = await seededThenRevokedAndDisabled();
    await setLimits({ client: store.client, tables }, 'acme', 'default', { rpm: 5 });

    expect(await seedFromConfig(store.client, tables, config())).toEqual({ tenants: 0, kept: 1, keys: 0 });
    expect(await resolve(tables, KEY_A)).toBeUndefined();
    const tenant = await new ConfigTable(store.client, tables.config).getTenant('acme');
    expect(tenant?.disabled).toBe(true);
    expect(tenant?.limits.default).toEqual({ rpm: 5 });
  });

  it('adds a key newly written into the config to an existing tenant, with the tenant as stored', async () => {
    const tables = await freshTables(store);
    await seedFromConfig(store.client, tables, config());
    await setLimits({ client: store.client, tables }, 'acme', 'default', { rpm: 7 });
    expect(await seedFromConfig(store.client, tables, config([KEY_A, KEY_B]))).toEqual({ tenants: 0, kept: 1, keys: 1 });
    const principal = await resolve(tables, KEY_B);
    expect(principal?.tenant.limits.default).toEqual({ rpm: 7 });
  });

  it('with reset, puts the tenant back as configured and revives its revoked keys', async () => {
    const tables = await seededThenRevokedAndDisabled();

    expect(await seedFromConfig(store.client, tables, config(), { reset: true })).toEqual({ tenants: 1, kept: 0, keys: 1 });
    const principal = await resolve(tables, KEY_A);
    expect(principal?.tenant.disabled).toBe(false);
    expect(principal?.tenant.limits.default).toEqual({ rpm: 100 });
  });

  it('says what it did in one line', () => {
    expect(seedingSummary({ tenants: 1, kept: 0, keys: 1 })).toBe('1 tenant seeded');
    expect(seedingSummary({ tenants: 0, kept: 2, keys: 0 })).toBe('0 tenants seeded, 2 kept as stored (--reseed resets them from the config)');
  });
});
