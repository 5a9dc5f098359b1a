/**
 * Key schema of splitserve's two DynamoDB tables: the single source that the CDK constructs
 * (lib/), the local runtime (local/) and the store code agree on. Item layouts are documented in
 * the store modules that read and write them.
 */

/** Key attribute names shared by both tables (`pk` partition key, `sk` sort key, both strings). */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** Attribute that DynamoDB TTL reads (epoch seconds) on the Usage table. */
export const USAGE_TTL_ATTRIBUTE = 'expiresAt' as const;

/**
 * Attribute that DynamoDB TTL reads (epoch seconds) on the Config table: only registered workers
 * carry it (lambda/store/worker-registry.ts); tenants and keys never expire.
 */
export const CONFIG_TTL_ATTRIBUTE = 'expiresAt' as const;

/** Environment variables carrying the table names into the Lambda functions. */
export const TABLE_ENV = { config: 'CONFIG_TABLE', usage: 'USAGE_TABLE' } as const;

/** Logical table roles. */
export const TABLE_ROLES = ['config', 'usage'] as const;
export type TableRole = (typeof TABLE_ROLES)[number];

/** Table names used by the local runtime (`npm start`) and assumed by `splitserve admin --endpoint`. */
export const LOCAL_TABLE_NAMES = { config: 'splitserve-config', usage: 'splitserve-usage' } as const;
