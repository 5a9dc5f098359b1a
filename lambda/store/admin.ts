/**
 * Typed admin operations over the Config and Usage tables: tenants, keys, tiers, limits, usage,
 * registered workers.
 * The CLI (bin/commands/admin.ts) is a thin layer over these. Keys are returned once, by
 * {@link createKey} and {@link rotateKey}, and never stored or logged.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TENANT_ID_PATTERN, TIER_NAMES, type PoolConfig, type RegistrationConfig, type SplitserveConfig, type TenantLimits, type TierName } from '../core/config.ts';
import { GatewayError } from '../core/errors.ts';
import { assertHostAllowed, drainSecondsOf, MIN_WORKER_TTL_S, normaliseWorkerUrl, registrationOf } from '../core/worker-registration.ts';
import { generateApiKey } from './api-keys.ts';
import type { ApiKeyRecord, TenantRecord, WorkerRecord } from './config-items.ts';
import { ConfigTable } from './config-table.ts';
import { InvalidArgumentError, NotFoundInStoreError } from './errors.ts';
import type { TableNames } from './tables.ts';
import { usageReport, type UsageReport } from './usage-report.ts';
import { WorkerRegistry } from './worker-registry.ts';

/** Where admin operations act. */
export interface AdminContext {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** Clock for timestamps. @default Date.now */
  readonly now?: () => number;
}

/** A freshly created key: `key` is shown once and cannot be recovered. */
export interface CreatedKey {
  readonly key: string;
  readonly record: ApiKeyRecord;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Whether `text` is a UTC day as `yyyy-mm-dd` that exists (`2026-02-30` and `2026-13-01` do not).
 *
 * @example
 * isCalendarDay('2028-02-29'); // true
 */
export function isCalendarDay(text: string): boolean {
  if (!DAY.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

function table(ctx: AdminContext): ConfigTable {
  return new ConfigTable(ctx.client, ctx.tables.config, ctx.now ? { now: ctx.now } : {});
}

/** Validates a tenant id (the config file's rule). */
export function assertTenantId(id: string): void {
  if (!TENANT_ID_PATTERN.test(id)) throw new InvalidArgumentError(`invalid tenant id "${id}": 1-64 characters of [a-zA-Z0-9_.-]`);
}

/**
 * Parses a tier list such as `priority,default` (`fast` means `priority`); a tier outside `known`
 * (by default every tier name; the CLI passes the tiers its config defines) is refused.
 *
 * @example
 * parseTiers('fast,default', ['priority', 'default']); // ['priority', 'default']
 */
export function parseTiers(list: string, known: readonly TierName[] = TIER_NAMES): TierName[] {
  const tiers = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s === 'fast' ? 'priority' : s));
  if (tiers.length === 0) throw new InvalidArgumentError('at least one tier is required');
  for (const t of tiers) if (!(known as readonly string[]).includes(t)) throw new InvalidArgumentError(`unknown tier "${t}" (known: ${known.join(', ')})`);
  return [...new Set(tiers)] as TierName[];
}

/** Creates a tenant. */
export async function createTenant(ctx: AdminContext, input: { id: string; tiers: readonly TierName[]; limits?: Partial<Record<TierName, TenantLimits>> }): Promise<TenantRecord> {
  assertTenantId(input.id);
  if (input.tiers.length === 0) throw new InvalidArgumentError('at least one tier is required');
  return table(ctx).createTenant({ id: input.id, tiers: input.tiers, limits: input.limits ?? {}, disabled: false });
}

/** Every tenant, sorted by id. */
export async function listTenants(ctx: AdminContext): Promise<TenantRecord[]> {
  return table(ctx).listTenants();
}

/** Disables (every key of the tenant then gets 403 within the key cache bound) or re-enables a tenant. */
export async function setTenantDisabled(ctx: AdminContext, tenantId: string, disabled: boolean): Promise<TenantRecord> {
  return table(ctx).updateTenant(tenantId, { disabled });
}

/** Replaces the tiers a tenant may be served at. */
export async function setTiers(ctx: AdminContext, tenantId: string, tiers: readonly TierName[]): Promise<TenantRecord> {
  if (tiers.length === 0) throw new InvalidArgumentError('at least one tier is required');
  return table(ctx).updateTenant(tenantId, { tiers });
}

/** Sets a tenant's limits for one tier; `null` (or no field set) removes them: the tier becomes unlimited. */
export async function setLimits(ctx: AdminContext, tenantId: string, tier: TierName, limits: TenantLimits | null): Promise<TenantRecord> {
  for (const [k, v] of Object.entries(limits ?? {})) {
    if (v !== undefined && (!Number.isInteger(v) || v <= 0)) throw new InvalidArgumentError(`${k} must be a positive integer`);
  }
  const empty = !limits || (limits.rpm === undefined && limits.tpm === undefined && limits.monthlyTokens === undefined);
  return table(ctx).updateTenant(tenantId, { limits: { [tier]: empty ? null : limits } });
}

/** Creates a key for a tenant; the key is in the result, once. */
export async function createKey(ctx: AdminContext, tenantId: string): Promise<CreatedKey> {
  const key = generateApiKey();
  const record = await table(ctx).addKey(tenantId, key);
  return { key, record };
}

/** The tenant's keys (live and revoked); {@link NotFoundInStoreError} for an unknown tenant. */
export async function listKeys(ctx: AdminContext, tenantId: string): Promise<ApiKeyRecord[]> {
  const t = table(ctx);
  await t.requireTenant(tenantId);
  return t.listKeys(tenantId);
}

/** Revokes a key (it stops working within the key cache bound). */
export async function revokeKey(ctx: AdminContext, tenantId: string, keyId: string): Promise<ApiKeyRecord> {
  return table(ctx).revokeKey(tenantId, keyId);
}

/** Creates a new key for the tenant, then revokes `keyId` (no moment without a working key). */
export async function rotateKey(ctx: AdminContext, tenantId: string, keyId: string): Promise<CreatedKey & { revoked: ApiKeyRecord }> {
  const t = table(ctx);
  const existing = (await t.listKeys(tenantId)).find((k) => k.keyId === keyId);
  if (!existing || existing.revokedAt) throw new NotFoundInStoreError(`live key "${keyId}" of tenant "${tenantId}" does not exist`);
  const created = await createKey(ctx, tenantId);
  const revoked = await t.revokeKey(tenantId, keyId);
  return { ...created, revoked };
}

/**
 * Per-tier usage totals (tokens, cost units, SLO attainment, sheds) of one tenant, or of every
 * tenant when `tenantId` is undefined, over inclusive UTC days `yyyy-mm-dd`.
 */
export async function getUsage(ctx: AdminContext, tenantId: string | undefined, from: string, to: string): Promise<UsageReport[]> {
  for (const [flag, day] of [['--from', from], ['--to', to]] as const) {
    if (!isCalendarDay(day)) throw new InvalidArgumentError(`${flag} "${day}" is not a day of the calendar: yyyy-mm-dd`);
  }
  if (from > to) throw new InvalidArgumentError('--from is after --to');
  const ids = tenantId !== undefined ? [tenantId] : (await listTenants(ctx)).map((t) => t.id);
  return Promise.all(ids.map((id) => usageReport(ctx.client, ctx.tables.usage, id, from, to)));
}

/**
 * The pool's registration settings and the worker URL normalised, checked against the config:
 * an unknown pool, a pool without `registration`, a bad URL or TTL is an {@link InvalidArgumentError}.
 */
function workerTarget(config: SplitserveConfig, pool: string, url: string | undefined, ttlS?: number): { url: string; pool: PoolConfig; registration: RegistrationConfig } {
  try {
    const found = registrationOf(config, pool);
    if (ttlS !== undefined && (!Number.isInteger(ttlS) || ttlS < MIN_WORKER_TTL_S || ttlS > 86_400)) {
      throw new InvalidArgumentError(`--ttl must be an integer from ${MIN_WORKER_TTL_S} to 86400 (seconds)`);
    }
    const normalised = url === undefined ? '' : normaliseWorkerUrl(url);
    if (url !== undefined) assertHostAllowed(normalised, found.registration, pool);
    return { ...found, url: normalised };
  } catch (err) {
    if (err instanceof GatewayError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** Registers a worker in a pool (or renews it) for `ttlS` seconds, the pool's `heartbeatTtlS` by default. */
export async function registerWorker(ctx: AdminContext, config: SplitserveConfig, pool: string, url: string, ttlS?: number): Promise<WorkerRecord> {
  const target = workerTarget(config, pool, url, ttlS);
  return new WorkerRegistry(ctx.client, ctx.tables.config, { now: ctx.now }).register(pool, target.url, ttlS ?? target.registration.heartbeatTtlS);
}

/** Marks a registered worker draining (no new calls; its registration lapses after the pool's drain time). */
export async function deregisterWorker(ctx: AdminContext, config: SplitserveConfig, pool: string, url: string): Promise<WorkerRecord> {
  const target = workerTarget(config, pool, url);
  const worker = await new WorkerRegistry(ctx.client, ctx.tables.config, { now: ctx.now }).deregister(pool, target.url, drainSecondsOf(target.pool, target.registration));
  if (!worker) throw new NotFoundInStoreError(`worker ${target.url} is not registered in pool "${pool}"`);
  return worker;
}

/** The pool's registrations that have not lapsed, active and draining. */
export async function listWorkers(ctx: AdminContext, config: SplitserveConfig, pool: string): Promise<WorkerRecord[]> {
  workerTarget(config, pool, undefined);
  return new WorkerRegistry(ctx.client, ctx.tables.config, { now: ctx.now }).live(pool);
}
