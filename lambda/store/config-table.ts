/**
 * Reads and writes of tenants and API keys in the Config table (layouts in config-items.ts).
 * Used by the admin operations and by local seeding; the request path uses key-resolver.ts.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { TenantLimits, TierName } from '../core/config.ts';
import type { Tenant } from '../core/ports.ts';
import { derivedKeyId, generateKeyId, hashApiKey } from './api-keys.ts';
import {
  CONFIG_KEYS,
  decodeKeyIndex,
  decodeTenant,
  denormalisedTenant,
  encodeKeyIndex,
  encodeKeyLookup,
  encodeTenant,
  keyIndexItemKey,
  keyLookupItemKey,
  tenantItemKey,
  type ApiKeyRecord,
  type TenantRecord,
} from './config-items.ts';
import { AlreadyExistsError, NotFoundInStoreError } from './errors.ts';

/** Changes to a tenant; `limits` entries replace that tier's limits (`null` removes them). */
export interface TenantPatch {
  readonly tiers?: readonly TierName[];
  readonly limits?: Partial<Record<TierName, TenantLimits | null>>;
  readonly disabled?: boolean;
}

/** Options of {@link ConfigTable}. */
export interface ConfigTableOptions {
  /** Clock for `createdAt`/`updatedAt`. @default Date.now */
  readonly now?: () => number;
}

/**
 * Tenant and key operations on the Config table.
 *
 * @example
 * const table = new ConfigTable(client, 'splitserve-config');
 * await table.createTenant({ id: 'acme', tiers: ['default'], limits: {}, disabled: false });
 * const { keyId } = await table.addKey('acme', generateApiKey());
 */
export class ConfigTable {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    public readonly tableName: string,
    options: ConfigTableOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The tenant, or undefined. Strongly consistent. */
  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: tenantItemKey(tenantId), ConsistentRead: true }));
    return out.Item ? decodeTenant(out.Item) : undefined;
  }

  /** The tenant, or a {@link NotFoundInStoreError}. */
  async requireTenant(tenantId: string): Promise<TenantRecord> {
    const t = await this.getTenant(tenantId);
    if (!t) throw new NotFoundInStoreError(`tenant "${tenantId}" does not exist`);
    return t;
  }

  /** Every tenant, sorted by id (a Scan: an admin operation, never on the request path). */
  async listTenants(): Promise<TenantRecord[]> {
    const out: TenantRecord[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'sk = :meta AND begins_with(pk, :tenant)',
          ExpressionAttributeValues: { ':meta': { S: CONFIG_KEYS.meta }, ':tenant': { S: CONFIG_KEYS.tenantPrefix } },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(decodeTenant(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Creates a tenant; {@link AlreadyExistsError} if it exists. */
  async createTenant(tenant: Tenant): Promise<TenantRecord> {
    const at = new Date(this.now()).toISOString();
    const record: TenantRecord = { ...tenant, createdAt: at, updatedAt: at };
    try {
      await this.client.send(
        new PutItemCommand({ TableName: this.tableName, Item: encodeTenant(record), ConditionExpression: 'attribute_not_exists(pk)' }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new AlreadyExistsError(`tenant "${tenant.id}" already exists`);
      throw err;
    }
    return record;
  }

  /** Creates a tenant unless it exists; the created record, or undefined when it was already there. */
  async createTenantIfMissing(tenant: Tenant): Promise<TenantRecord | undefined> {
    try {
      return await this.createTenant(tenant);
    } catch (err) {
      if (err instanceof AlreadyExistsError) return undefined;
      throw err;
    }
  }

  /**
   * Whether the store holds, or has held, `key` for the tenant: a live key, a revoked one (its
   * index item under the id derived from the key stays), or the same key added by the admin CLI.
   */
  async hasHeldKey(tenantId: string, key: string): Promise<boolean> {
    const keyHash = hashApiKey(key);
    const index = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: keyIndexItemKey(tenantId, derivedKeyId(keyHash)), ConsistentRead: true, ProjectionExpression: 'pk' }),
    );
    if (index.Item) return true;
    const lookup = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: keyLookupItemKey(keyHash), ConsistentRead: true, ProjectionExpression: 'pk' }),
    );
    return lookup.Item !== undefined;
  }

  /** Creates or replaces a tenant (keeping `createdAt`), then refreshes its keys' copies. */
  async putTenant(tenant: Tenant): Promise<TenantRecord> {
    const existing = await this.getTenant(tenant.id);
    const at = new Date(this.now()).toISOString();
    const record: TenantRecord = { ...tenant, createdAt: existing?.createdAt ?? at, updatedAt: at };
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: encodeTenant(record) }));
    await this.syncKeys(record);
    return record;
  }

  /** Applies a patch to an existing tenant, then refreshes its keys' copies. */
  async updateTenant(tenantId: string, patch: TenantPatch): Promise<TenantRecord> {
    const t = await this.requireTenant(tenantId);
    const limits: Partial<Record<TierName, TenantLimits>> = { ...t.limits };
    for (const [tier, l] of Object.entries(patch.limits ?? {}) as Array<[TierName, TenantLimits | null]>) {
      if (l === null) delete limits[tier];
      else limits[tier] = l;
    }
    const record: TenantRecord = {
      ...t,
      tiers: patch.tiers ?? t.tiers,
      limits,
      disabled: patch.disabled ?? t.disabled,
      updatedAt: new Date(this.now()).toISOString(),
    };
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: encodeTenant(record) }));
    await this.syncKeys(record);
    return record;
  }

  /**
   * Stores a key for an existing tenant (only its hash). `keyId` defaults to a random id, or,
   * with `derivedId`, to a stable id derived from the hash (keys from a config file). Writing the
   * same key again replaces it.
   */
  async addKey(tenantId: string, key: string, options: { derivedId?: boolean; tenant?: Tenant } = {}): Promise<ApiKeyRecord> {
    const tenant = options.tenant ?? (await this.requireTenant(tenantId));
    const keyHash = hashApiKey(key);
    const record: ApiKeyRecord = {
      tenantId,
      keyId: options.derivedId ? derivedKeyId(keyHash) : generateKeyId(),
      disabled: false,
      createdAt: new Date(this.now()).toISOString(),
    };
    const owner = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: keyLookupItemKey(keyHash), ConsistentRead: true, ProjectionExpression: 'tenantId' }),
    );
    const ownerId = owner.Item?.tenantId?.S;
    if (ownerId !== undefined && ownerId !== tenantId) throw new AlreadyExistsError('this key already belongs to another tenant');
    // Index first: a lookup item never exists without an index item that can revoke it.
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: encodeKeyIndex(keyHash, record) }));
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: encodeKeyLookup(keyHash, record, tenant) }));
    return record;
  }

  /** The tenant's keys (live and revoked), oldest first. */
  async listKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return (await this.keyIndex(tenantId)).map((k) => k.record).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /**
   * Revokes a key: its lookup item is deleted (the key then resolves to nothing; caches forget it
   * within their bound) and its index item is marked `revokedAt`.
   */
  async revokeKey(tenantId: string, keyId: string): Promise<ApiKeyRecord> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: keyIndexItemKey(tenantId, keyId), ConsistentRead: true }));
    if (!out.Item) throw new NotFoundInStoreError(`key "${keyId}" of tenant "${tenantId}" does not exist`);
    const { keyHash, record } = decodeKeyIndex(out.Item);
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: keyLookupItemKey(keyHash) }));
    const revoked: ApiKeyRecord = { ...record, revokedAt: record.revokedAt ?? new Date(this.now()).toISOString() };
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: encodeKeyIndex(keyHash, revoked) }));
    return revoked;
  }

  private async keyIndex(tenantId: string): Promise<Array<{ record: ApiKeyRecord; keyHash: string }>> {
    const out: Array<{ record: ApiKeyRecord; keyHash: string }> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :key)',
          ExpressionAttributeValues: { ':pk': { S: CONFIG_KEYS.tenantPrefix + tenantId }, ':key': { S: CONFIG_KEYS.keyPrefix } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(decodeKeyIndex(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Copies the tenant's tiers, limits and status into each live key lookup item. */
  private async syncKeys(tenant: Tenant): Promise<void> {
    const live = (await this.keyIndex(tenant.id)).filter((k) => !k.record.revokedAt);
    const copy = denormalisedTenant(tenant);
    for (const { keyHash } of live) {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: keyLookupItemKey(keyHash),
            UpdateExpression: 'SET tenantTiers = :tiers, tenantLimits = :limits, tenantDisabled = :disabled',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':tiers': copy.tenantTiers!, ':limits': copy.tenantLimits!, ':disabled': copy.tenantDisabled! },
          }),
        );
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
  }
}
