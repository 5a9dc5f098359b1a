import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { API_KEY_PREFIX, generateApiKey, generateKeyId, hashApiKey } from '../../lambda/store/api-keys.ts';
import { ConfigTable } from '../../lambda/store/config-table.ts';
import { DynamoKeyResolver } from '../../lambda/store/key-resolver.ts';
import { seedFromConfig } from '../../lambda/store/seed.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { countCalls, freshTables, manualClock } from './helpers.ts';

let store: EmbeddedDynamo;
let names: TableNames;
let calls: ReturnType<typeof countCalls>;

beforeAll(async () => {
  store = await startEmbeddedDynamo();
  calls = countCalls(store.client);
  names = await freshTables(store);
  await seedFromConfig(store.client, names, {
    tenants: [
      { id: 'acme', apiKeys: ['sk-local-acme', 'sk-local-acme-2'], tiers: ['priority', 'default'], limits: { priority: { rpm: 600, tpm: 200000 } }, disabled: false },
      { id: 'beta', apiKeys: ['sk-local-beta'], tiers: ['default'], limits: {}, disabled: false },
    ],
  });
});
afterAll(async () => {
  await store.close();
});

describe('api keys', () => {
  it('generates prefixed keys with 32 bytes of entropy and independent ids', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(Buffer.from(a.slice(API_KEY_PREFIX.length), 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(a).not.toBe(b);
    expect(hashApiKey(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const id = generateKeyId();
    expect(id).toHaveLength(8);
    expect(a).not.toContain(id);
  });
});

describe('DynamoKeyResolver', () => {
  it('resolves a seeded key to its tenant with one GetItem, then from the cache', async () => {
    const resolver = new DynamoKeyResolver(store.client, names.config);
    calls.reset();
    const p = await resolver.resolve(hashApiKey('sk-local-acme'));
    expect(p?.tenant).toEqual({ id: 'acme', tiers: ['priority', 'default'], limits: { priority: { rpm: 600, tpm: 200000 } }, disabled: false });
    expect(p?.keyDisabled).toBe(false);
    expect(p?.keyId).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(calls.byOp.get('GetItemCommand')).toBe(1);
    expect(calls.total()).toBe(1);
    await resolver.resolve(hashApiKey('sk-local-acme'));
    expect(calls.total()).toBe(1);
  });

  it('seeding twice keeps key ids stable and does not duplicate keys', async () => {
    const table = new ConfigTable(store.client, names.config);
    const before = await table.listKeys('acme');
    await seedFromConfig(store.client, names, {
      tenants: [{ id: 'acme', apiKeys: ['sk-local-acme', 'sk-local-acme-2'], tiers: ['priority', 'default'], limits: { priority: { rpm: 600, tpm: 200000 } }, disabled: false }],
    });
    const after = await table.listKeys('acme');
    expect(after.map((k) => k.keyId).sort()).toEqual(before.map((k) => k.keyId).sort());
    expect(after).toHaveLength(2);
  });

  it('stops resolving a revoked key within the cache bound, not before', async () => {
    const clock = manualClock();
    const table = new ConfigTable(store.client, names.config);
    const key = generateApiKey();
    const { keyId } = await table.addKey('beta', key);
    const resolver = new DynamoKeyResolver(store.client, names.config, { ttlMs: 2000, now: clock.now });
    expect((await resolver.resolve(hashApiKey(key)))?.keyId).toBe(keyId);
    await table.revokeKey('beta', keyId);
    clock.advance(1999);
    expect((await resolver.resolve(hashApiKey(key)))?.keyId).toBe(keyId);
    clock.advance(1);
    expect(await resolver.resolve(hashApiKey(key))).toBeUndefined();
    expect((await table.listKeys('beta')).find((k) => k.keyId === keyId)?.revokedAt).toBeDefined();
  });

  it('sees a disabled tenant and new limits within the bound', async () => {
    const clock = manualClock();
    const table = new ConfigTable(store.client, names.config);
    const resolver = new DynamoKeyResolver(store.client, names.config, { ttlMs: 1000, now: clock.now });
    expect((await resolver.resolve(hashApiKey('sk-local-beta')))?.tenant.disabled).toBe(false);
    await table.updateTenant('beta', { disabled: true, limits: { default: { rpm: 5 } } });
    clock.advance(1000);
    const p = await resolver.resolve(hashApiKey('sk-local-beta'));
    expect(p?.tenant.disabled).toBe(true);
    expect(p?.tenant.limits).toEqual({ default: { rpm: 5 } });
    await table.updateTenant('beta', { disabled: false, limits: { default: null } });
  });

  it('caches unknown keys briefly and bounds the cache size', async () => {
    const clock = manualClock();
    const resolver = new DynamoKeyResolver(store.client, names.config, { negativeTtlMs: 500, maxEntries: 100, now: clock.now });
    calls.reset();
    const bad = hashApiKey('sk-not-a-key');
    for (let i = 0; i < 50; i++) expect(await resolver.resolve(bad)).toBeUndefined();
    expect(calls.total()).toBe(1);
    clock.advance(500);
    await resolver.resolve(bad);
    expect(calls.total()).toBe(2);
    await Promise.all(Array.from({ length: 300 }, (_, i) => resolver.resolve(hashApiKey(`flood-${i}`))));
    expect(resolver.size).toBeLessThanOrEqual(100);
  });

  it('coalesces concurrent misses on one key into one read', async () => {
    const resolver = new DynamoKeyResolver(store.client, names.config);
    calls.reset();
    const all = await Promise.all(Array.from({ length: 20 }, () => resolver.resolve(hashApiKey('sk-local-acme-2'))));
    expect(new Set(all.map((p) => p?.tenant.id))).toEqual(new Set(['acme']));
    expect(calls.total()).toBe(1);
  });
});
