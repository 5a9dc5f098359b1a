/**
 * Item layouts of the Config table, and their encoding. The only module that knows them.
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | tenant | `TENANT#<tenantId>` | `META` | `tenantId` S, `tiers` L<S>, `limits` M (tier → M{`rpm`,`tpm`,`monthlyTokens`} N), `disabled` BOOL, `createdAt` S, `updatedAt` S |
 * | key lookup | `KEY#<sha256hex>` | `META` | `tenantId` S, `keyId` S, `disabled` BOOL, `createdAt` S, and the tenant denormalised: `tenantTiers` L<S>, `tenantLimits` M, `tenantDisabled` BOOL |
 * | key index | `TENANT#<tenantId>` | `KEY#<keyId>` | `tenantId` S, `keyId` S, `keyHash` S, `disabled` BOOL, `createdAt` S, `revokedAt` S (once revoked) |
 * | registered worker | `POOL#<pool>` | `WORKER#<url>` | `pool` S, `url` S, `state` S (`active` \| `draining`), `expiresAt` N (epoch s, the table's TTL), `registeredAt` S, `updatedAt` S |
 *
 * Resolving a key is ONE `GetItem` of its lookup item, which carries everything the request path
 * needs (the tenant's tiers, limits and status are copied into it). Writers of a tenant update the
 * tenant item first, then every live key lookup item of that tenant (found through the key index
 * items, one Query); re-running an interrupted admin command converges. A revoked key's lookup
 * item is deleted (the key then resolves to nothing: 401); its index item stays, with `revokedAt`.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { TIER_NAMES, type TenantLimits, type TierName } from '../core/config.ts';
import type { Principal, Tenant } from '../core/ports.ts';

type Item = Record<string, AttributeValue>;

/** Key prefixes and fixed sort keys of the Config table. */
export const CONFIG_KEYS = { tenantPrefix: 'TENANT#', keyPrefix: 'KEY#', meta: 'META', poolPrefix: 'POOL#', workerPrefix: 'WORKER#' } as const;

/** Primary key of a tenant item. */
export function tenantItemKey(tenantId: string): Item {
  return { pk: { S: CONFIG_KEYS.tenantPrefix + tenantId }, sk: { S: CONFIG_KEYS.meta } };
}

/** Primary key of a key lookup item. */
export function keyLookupItemKey(keyHash: string): Item {
  return { pk: { S: CONFIG_KEYS.keyPrefix + keyHash }, sk: { S: CONFIG_KEYS.meta } };
}

/** Primary key of a key index item. */
export function keyIndexItemKey(tenantId: string, keyId: string): Item {
  return { pk: { S: CONFIG_KEYS.tenantPrefix + tenantId }, sk: { S: CONFIG_KEYS.keyPrefix + keyId } };
}

/** A tenant as stored, with its timestamps. */
export interface TenantRecord extends Tenant {
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An API key as stored in the key index (never the key; the hash stays inside the store). */
export interface ApiKeyRecord {
  readonly tenantId: string;
  readonly keyId: string;
  readonly disabled: boolean;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

const LIMIT_FIELDS = ['rpm', 'tpm', 'monthlyTokens'] as const;

/** Encodes per-tier limits as a map attribute. */
export function encodeLimits(limits: Partial<Record<TierName, TenantLimits>>): AttributeValue {
  const out: Item = {};
  for (const tier of TIER_NAMES) {
    const l = limits[tier];
    if (!l) continue;
    const m: Item = {};
    for (const f of LIMIT_FIELDS) if (l[f] !== undefined) m[f] = { N: String(l[f]) };
    out[tier] = { M: m };
  }
  return { M: out };
}

/** Decodes per-tier limits; unknown tiers and fields are ignored. */
export function decodeLimits(attr: AttributeValue | undefined): Partial<Record<TierName, TenantLimits>> {
  const out: Partial<Record<TierName, TenantLimits>> = {};
  const m = attr?.M;
  if (!m) return out;
  for (const tier of TIER_NAMES) {
    const t = m[tier]?.M;
    if (!t) continue;
    const l: { -readonly [K in keyof TenantLimits]: TenantLimits[K] } = {};
    for (const f of LIMIT_FIELDS) {
      const n = t[f]?.N;
      if (n !== undefined) l[f] = Number(n);
    }
    out[tier] = l;
  }
  return out;
}

/** Encodes a tier list. */
export function encodeTiers(tiers: readonly TierName[]): AttributeValue {
  return { L: tiers.map((t) => ({ S: t })) };
}

/** Decodes a tier list, keeping known tier names only. */
export function decodeTiers(attr: AttributeValue | undefined): TierName[] {
  const known: readonly string[] = TIER_NAMES;
  return (attr?.L ?? []).map((v) => v.S ?? '').filter((s): s is TierName => known.includes(s));
}

/** The tenant item for a tenant. */
export function encodeTenant(t: TenantRecord): Item {
  return {
    ...tenantItemKey(t.id),
    tenantId: { S: t.id },
    tiers: encodeTiers(t.tiers),
    limits: encodeLimits(t.limits),
    disabled: { BOOL: t.disabled },
    createdAt: { S: t.createdAt },
    updatedAt: { S: t.updatedAt },
  };
}

/** Decodes a tenant item. */
export function decodeTenant(item: Item): TenantRecord {
  return {
    id: item.tenantId?.S ?? '',
    tiers: decodeTiers(item.tiers),
    limits: decodeLimits(item.limits),
    disabled: item.disabled?.BOOL ?? false,
    createdAt: item.createdAt?.S ?? '',
    updatedAt: item.updatedAt?.S ?? '',
  };
}

/** The tenant attributes copied into each key lookup item (for `SET` or `PutItem`). */
export function denormalisedTenant(t: Tenant): Item {
  return { tenantTiers: encodeTiers(t.tiers), tenantLimits: encodeLimits(t.limits), tenantDisabled: { BOOL: t.disabled } };
}

/** The key lookup item of a key. */
export function encodeKeyLookup(keyHash: string, key: ApiKeyRecord, tenant: Tenant): Item {
  return {
    ...keyLookupItemKey(keyHash),
    tenantId: { S: key.tenantId },
    keyId: { S: key.keyId },
    disabled: { BOOL: key.disabled },
    createdAt: { S: key.createdAt },
    ...denormalisedTenant(tenant),
  };
}

/** Decodes a key lookup item into the principal the request path sees. */
export function decodePrincipal(item: Item): Principal {
  return {
    keyId: item.keyId?.S ?? '',
    keyDisabled: item.disabled?.BOOL ?? false,
    tenant: {
      id: item.tenantId?.S ?? '',
      tiers: decodeTiers(item.tenantTiers),
      limits: decodeLimits(item.tenantLimits),
      disabled: item.tenantDisabled?.BOOL ?? false,
    },
  };
}

/** The key index item of a key. */
export function encodeKeyIndex(keyHash: string, key: ApiKeyRecord): Item {
  return {
    ...keyIndexItemKey(key.tenantId, key.keyId),
    tenantId: { S: key.tenantId },
    keyId: { S: key.keyId },
    keyHash: { S: keyHash },
    disabled: { BOOL: key.disabled },
    createdAt: { S: key.createdAt },
    ...(key.revokedAt ? { revokedAt: { S: key.revokedAt } } : {}),
  };
}

/** Decodes a key index item (the hash is returned separately, for store-internal use). */
export function decodeKeyIndex(item: Item): { record: ApiKeyRecord; keyHash: string } {
  const revokedAt = item.revokedAt?.S;
  return {
    keyHash: item.keyHash?.S ?? '',
    record: {
      tenantId: item.tenantId?.S ?? '',
      keyId: item.keyId?.S ?? '',
      disabled: item.disabled?.BOOL ?? false,
      createdAt: item.createdAt?.S ?? '',
      ...(revokedAt ? { revokedAt } : {}),
    },
  };
}

/** What a registered worker may be: taking new calls, or finishing the ones it has. */
export const WORKER_STATES = ['active', 'draining'] as const;
/** One of {@link WORKER_STATES}. */
export type WorkerState = (typeof WORKER_STATES)[number];

/** A registered worker as stored. */
export interface WorkerRecord {
  readonly pool: string;
  readonly url: string;
  readonly state: WorkerState;
  /** When the registration lapses without a heartbeat (or the drain ends), epoch seconds. */
  readonly expiresAt: number;
  readonly registeredAt: string;
  readonly updatedAt: string;
}

/** Partition key of a pool's registered workers. */
export function workerPartitionKey(pool: string): AttributeValue {
  return { S: CONFIG_KEYS.poolPrefix + pool };
}

/** Primary key of a registered worker item. */
export function workerItemKey(pool: string, url: string): Item {
  return { pk: workerPartitionKey(pool), sk: { S: CONFIG_KEYS.workerPrefix + url } };
}

/** The item of a registered worker. */
export function encodeWorker(w: WorkerRecord): Item {
  return {
    ...workerItemKey(w.pool, w.url),
    pool: { S: w.pool },
    url: { S: w.url },
    state: { S: w.state },
    expiresAt: { N: String(w.expiresAt) },
    registeredAt: { S: w.registeredAt },
    updatedAt: { S: w.updatedAt },
  };
}

/** Decodes a registered worker item; an unknown state reads as `draining` (no new calls). */
export function decodeWorker(item: Item): WorkerRecord {
  const state = item.state?.S === 'active' ? 'active' : 'draining';
  return {
    pool: item.pool?.S ?? '',
    url: item.url?.S ?? '',
    state,
    expiresAt: Number(item.expiresAt?.N ?? 0),
    registeredAt: item.registeredAt?.S ?? '',
    updatedAt: item.updatedAt?.S ?? '',
  };
}
