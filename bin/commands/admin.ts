/**
 * `splitserve admin`: tenants, keys, tiers, limits and usage, on the local store or a deployed
 * stack. A thin layer over lambda/store/admin.ts: parse, call, print (a table, or `--json`).
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { TIER_NAMES, type TenantLimits, type TierName } from '../../lambda/core/config.ts';
import { ConfigError } from '../../lambda/core/errors.ts';
import * as admin from '../../lambda/store/admin.ts';
import type { ApiKeyRecord, TenantRecord } from '../../lambda/store/config-items.ts';
import { InvalidArgumentError, StoreError } from '../../lambda/store/errors.ts';
import { deadLocalInstance, sweepOpenRequests } from '../../lambda/store/open-requests.ts';
import { LOCAL_TABLE_NAMES, TABLE_ENV } from '../../lambda/store/table-schema.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { DEFAULT_STORE_PORT } from '../../local/embedded-dynamo.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile } from '../../local/start-local.ts';
import { argumentErrorText, CommandFailure, CommandLineError, expectedFailure, failureText, parseCommandLine } from './command-line.ts';

const USAGE = `usage: npm run admin -- <command> [target] [options]

commands:
  tenant create --tenant ID --tiers priority,default
  tenant list
  tenant disable|enable --tenant ID
  key create --tenant ID                 prints the new key ONCE
  key list --tenant ID
  key revoke --tenant ID --key-id KID
  key rotate --tenant ID --key-id KID    new key (printed once), then revokes KID
  limits set --tenant ID --tier TIER [--rpm N] [--tpm N] [--monthly-tokens N]
                                         no limit given: the tier becomes unlimited;
                                         --monthly-tokens counts cost units (tokens × the
                                         tier's priceFactor)
  tiers set --tenant ID priority,default
  usage [--tenant ID] --from YYYY-MM-DD --to YYYY-MM-DD
                                         per tier (every tenant without --tenant): requests,
                                         tokens, cost units, SLO attainment, sheds
  workers register --pool P --url URL [--ttl S]
                                         registers a worker in a pool that takes registrations
                                         (or renews it: run it again within the TTL, default the
                                         pool's heartbeatTtlS)
  workers deregister --pool P --url URL  drains it: no new calls, then its registration lapses
  workers list --pool P                  registrations not lapsed, active and draining
  sweep [--dead-local]                   bills what gateways killed while serving left open, as
                                         'interrupted' usage records at their reservation: the
                                         markers past their deadline (16 min after the request's
                                         start; deployed, a schedule runs this every 5 min), and
                                         with --dead-local those of this host's exited processes

target (one of):
  --endpoint URL          a DynamoDB endpoint, e.g. the local store: npm start's embedded one
                          and npm run store listen on http://127.0.0.1:${DEFAULT_STORE_PORT}; region "local", dummy
                          credentials; tables ${LOCAL_TABLE_NAMES.config} / ${LOCAL_TABLE_NAMES.usage}, else the
                          only tables named *config* / *usage*, unless given
  --stack NAME            a deployed stack: table names from its outputs (ConfigTableName,
                          UsageTableName), default AWS credential chain
  --config-table NAME --usage-table NAME
                          explicit tables (also from $${TABLE_ENV.config} / $${TABLE_ENV.usage})
  --region REGION         AWS region (default: the credential chain's)

options:
  --config FILE           the config whose tiers are the known ones (default: the bundled
                          splitserve.config.json; give the one you deployed)
  --json                  machine-readable output
  -h, --help              show this help
`;

/** Where the command writes (injectable for tests). */
export interface AdminIO {
  out(text: string): void;
  err(text: string): void;
}

const processIO: AdminIO = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Stack output keys holding the table names (lib/splitserve-stack.ts STACK_OUTPUTS). */
export const STACK_TABLE_OUTPUTS = { config: 'ConfigTableName', usage: 'UsageTableName' } as const;

/** The options of `splitserve admin`, as the parser and the docs test read them. */
export const ADMIN_OPTIONS = {
  endpoint: { type: 'string' },
  config: { type: 'string' },
  stack: { type: 'string' },
  region: { type: 'string' },
  'config-table': { type: 'string' },
  'usage-table': { type: 'string' },
  tenant: { type: 'string' },
  id: { type: 'string' },
  tiers: { type: 'string' },
  tier: { type: 'string' },
  'key-id': { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  'monthly-tokens': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  pool: { type: 'string' },
  url: { type: 'string' },
  ttl: { type: 'string' },
  'dead-local': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Values = ReturnType<typeof parseCommandLine<typeof ADMIN_OPTIONS>>['values'];

/** The admin commands (their first one or two words), as `run` knows them. */
export const ADMIN_COMMANDS = [
  'tenant create', 'tenant list', 'tenant disable', 'tenant enable',
  'key create', 'key list', 'key revoke', 'key rotate',
  'limits set', 'tiers set', 'usage', 'sweep',
  'workers register', 'workers deregister', 'workers list',
] as const;

/**
 * `--key-id ID` as `--key-id=ID`: key ids are base64url, so one in 64 starts with `-`, which
 * `parseArgs` refuses as an ambiguous value after a separate option name.
 */
function withKeyIdValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--key-id' && i + 1 < args.length) out.push(`--key-id=${args[++i]}`);
    else out.push(args[i]!);
  }
  return out;
}

/**
 * Runs `splitserve admin`; resolves 0 on success, 1 when the operation fails, 2 on bad arguments.
 *
 * @example
 * // npx tsx bin/splitserve.ts admin key create --tenant acme --endpoint http://127.0.0.1:4567
 * process.exitCode = await adminCommand(['key', 'create', '--tenant', 'acme', '--endpoint', 'http://127.0.0.1:4567']);
 */
export async function adminCommand(args: string[], io: AdminIO = processIO): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandLine(withKeyIdValues(args), ADMIN_OPTIONS, true));
  } catch (err) {
    io.err(argumentErrorText('admin', (err as Error).message));
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (positionals.length === 0) {
    io.err(argumentErrorText('admin', `give a command: ${ADMIN_COMMANDS.join(', ')}`));
    return 2;
  }
  let client: DynamoDBClient | undefined;
  try {
    const target = await resolveTarget(values);
    client = target.client;
    await run({ client, tables: target.tables }, positionals, values, io);
    return 0;
  } catch (err) {
    if (err instanceof CommandLineError || err instanceof InvalidArgumentError) {
      io.err(argumentErrorText('admin', err.message));
      return 2;
    }
    const failure = expectedFailure(err) ?? (err instanceof ConfigError ? new CommandFailure(err.message, 'give a valid config with --config FILE') : undefined);
    const message = failure?.message ?? (err instanceof Error ? err.message : String(err));
    if (values.json) io.out(`${JSON.stringify(err instanceof StoreError ? err.toJSON() : { error: { message, code: 'error' } })}\n`);
    io.err(failure ? failureText('admin', failure) : `splitserve admin: ${message}\n`);
    return 1;
  } finally {
    client?.destroy();
  }
}

/** The tiers of the config (`--config`, else the bundled one): the only ones a tenant can be served at. */
async function configTiers(v: Values): Promise<TierName[]> {
  const config = await loadConfigFile(v.config ?? DEFAULT_CONFIG_PATH);
  return TIER_NAMES.filter((t) => config.tiers[t] !== undefined);
}

async function resolveTarget(v: Values): Promise<{ client: DynamoDBClient; tables: TableNames }> {
  if (v.endpoint && v.stack) throw new CommandLineError('give either --endpoint or --stack, not both');
  const region = v.region ? { region: v.region } : {};
  if (v.endpoint) {
    if (!/^https?:\/\//.test(v.endpoint)) throw new CommandLineError('--endpoint must be an http(s) URL');
    const client = new DynamoDBClient({ endpoint: v.endpoint, region: v.region ?? 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const config = v['config-table'];
    const usage = v['usage-table'];
    return { client, tables: config && usage ? { config, usage } : await discoverTables(client, config, usage) };
  }
  if (v.stack) {
    const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
    const cfn = new CloudFormationClient(region);
    try {
      const out = await cfn.send(new DescribeStacksCommand({ StackName: v.stack }));
      const outputs = out.Stacks?.[0]?.Outputs ?? [];
      const find = (key: string): string | undefined => outputs.find((o) => o.OutputKey === key)?.OutputValue;
      const config = v['config-table'] ?? find(STACK_TABLE_OUTPUTS.config);
      const usage = v['usage-table'] ?? find(STACK_TABLE_OUTPUTS.usage);
      if (!config || !usage) throw new Error(`stack "${v.stack}" has no ${STACK_TABLE_OUTPUTS.config}/${STACK_TABLE_OUTPUTS.usage} outputs`);
      return { client: new DynamoDBClient(region), tables: { config, usage } };
    } finally {
      cfn.destroy();
    }
  }
  const config = v['config-table'] ?? process.env[TABLE_ENV.config];
  const usage = v['usage-table'] ?? process.env[TABLE_ENV.usage];
  if (!config || !usage) throw new CommandLineError('no target: give --endpoint, --stack, or --config-table and --usage-table');
  return { client: new DynamoDBClient(region), tables: { config, usage } };
}

/**
 * Table names on a local endpoint: the local runtime's defaults if present, else the one table
 * whose name contains "config" (resp. "usage"), as the stack-based local runtime names them
 * after the template.
 */
async function discoverTables(client: DynamoDBClient, config: string | undefined, usage: string | undefined): Promise<TableNames> {
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start);
  const pick = (given: string | undefined, fallback: string, pattern: RegExp): string => {
    if (given) return given;
    if (names.includes(fallback)) return fallback;
    const found = names.filter((n) => pattern.test(n));
    if (found.length === 1) return found[0]!;
    throw new CommandLineError(`cannot tell which table to use among [${names.join(', ')}]: give --config-table and --usage-table`);
  };
  return { config: pick(config, LOCAL_TABLE_NAMES.config, /config/i), usage: pick(usage, LOCAL_TABLE_NAMES.usage, /usage/i) };
}

function need(v: Values, name: 'tenant' | 'key-id' | 'tier' | 'from' | 'to' | 'pool' | 'url'): string {
  const value = name === 'tenant' ? (v.tenant ?? v.id) : v[name];
  if (!value) throw new CommandLineError(`--${name} is required`);
  return value;
}

function count(v: Values, name: 'rpm' | 'tpm' | 'monthly-tokens'): number | undefined {
  const raw = v[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new CommandLineError(`--${name} must be a positive integer`);
  return n;
}

async function tierOf(name: string, v: Values): Promise<TierName> {
  const [tier] = admin.parseTiers(name, await configTiers(v));
  return tier!;
}

async function run(ctx: admin.AdminContext, pos: string[], v: Values, io: AdminIO): Promise<void> {
  const [group, action, extra] = pos;
  const print = (json: unknown, human: string): void => io.out(v.json ? `${JSON.stringify(json, null, 2)}\n` : human);
  const command = group === 'usage' || group === 'sweep' ? group : `${group} ${action ?? ''}`;
  switch (command) {
    case 'tenant create': {
      const t = await admin.createTenant(ctx, { id: need(v, 'tenant'), tiers: admin.parseTiers(v.tiers ?? 'default', await configTiers(v)) });
      return print(t, `created tenant ${t.id} (tiers: ${t.tiers.join(', ')})\n`);
    }
    case 'tenant list': {
      const ts = await admin.listTenants(ctx);
      return print(ts, tenantsTable(ts));
    }
    case 'tenant disable':
    case 'tenant enable': {
      const t = await admin.setTenantDisabled(ctx, need(v, 'tenant'), action === 'disable');
      return print(t, `tenant ${t.id} ${t.disabled ? 'disabled' : 'enabled'}\n`);
    }
    case 'key create': {
      const { key, record } = await admin.createKey(ctx, need(v, 'tenant'));
      return print({ ...record, key }, `created key ${record.keyId} for tenant ${record.tenantId}; store it now, it is not shown again:\n${key}\n`);
    }
    case 'key rotate': {
      const { key, record, revoked } = await admin.rotateKey(ctx, need(v, 'tenant'), need(v, 'key-id'));
      return print({ ...record, key, revoked }, `created key ${record.keyId}, revoked ${revoked.keyId}; store the new key now, it is not shown again:\n${key}\n`);
    }
    case 'key revoke': {
      const k = await admin.revokeKey(ctx, need(v, 'tenant'), need(v, 'key-id'));
      return print(k, `revoked key ${k.keyId} of tenant ${k.tenantId}\n`);
    }
    case 'key list': {
      const ks = await admin.listKeys(ctx, need(v, 'tenant'));
      return print(ks, keysTable(ks));
    }
    case 'limits set': {
      const limits: TenantLimits = { rpm: count(v, 'rpm'), tpm: count(v, 'tpm'), monthlyTokens: count(v, 'monthly-tokens') };
      const clean = Object.fromEntries(Object.entries(limits).filter(([, n]) => n !== undefined)) as TenantLimits;
      const tier = await tierOf(need(v, 'tier'), v);
      const t = await admin.setLimits(ctx, need(v, 'tenant'), tier, clean);
      return print(t, `limits of ${t.id} on ${tier}: ${describeLimits(t.limits[tier])}\n`);
    }
    case 'tiers set': {
      const list = v.tiers ?? extra;
      if (!list) throw new CommandLineError(`give the tiers, e.g. tiers set --tenant ID ${(await configTiers(v)).join(',')}`);
      const t = await admin.setTiers(ctx, need(v, 'tenant'), admin.parseTiers(list, await configTiers(v)));
      return print(t, `tiers of ${t.id}: ${t.tiers.join(', ')}\n`);
    }
    case 'usage': {
      const from = need(v, 'from');
      const to = need(v, 'to');
      const reports = await admin.getUsage(ctx, v.tenant, from, to);
      const rows = reports.flatMap((r) =>
        r.tiers.map((t) => [
          r.tenantId, t.tier, String(t.requests), String(t.promptTokens), String(t.completionTokens), String(t.costUnits),
          t.sloAttainment === null ? '-' : `${(t.sloAttainment * 100).toFixed(1)}% (${t.sloMet}/${t.sloMet + t.sloMissed})`,
          String(t.shed), String(t.errors), String(t.aborted), String(t.interrupted),
        ]),
      );
      const who = v.tenant === undefined ? 'every tenant' : v.tenant;
      return print(
        v.tenant === undefined ? reports : reports[0],
        `usage of ${who}, ${from} to ${to} (UTC days)\n${table(['TENANT', 'TIER', 'REQUESTS', 'PROMPT_TOKENS', 'COMPLETION_TOKENS', 'COST_UNITS', 'SLO_MET', 'SHED', 'ERRORS', 'ABORTED', 'INTERRUPTED'], rows)}`,
      );
    }
    case 'sweep': {
      const report = await sweepOpenRequests(ctx.client, ctx.tables.usage, { isDead: v['dead-local'] ? deadLocalInstance : undefined, logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m) => io.err(`${m}\n`) } });
      return print(
        report,
        `swept ${counted(report.items, 'marker item')} (${counted(report.markers, 'open request')}): ${report.interrupted} billed as interrupted, ${report.alreadyRecorded} already recorded\n`,
      );
    }
    case 'workers register': {
      const ttl = v.ttl === undefined ? undefined : Number(v.ttl);
      const w = await admin.registerWorker(ctx, await loadConfigFile(v.config ?? DEFAULT_CONFIG_PATH), need(v, 'pool'), need(v, 'url'), ttl);
      return print(w, `registered ${w.url} in pool ${w.pool} until ${isoSeconds(w.expiresAt)}\n`);
    }
    case 'workers deregister': {
      const w = await admin.deregisterWorker(ctx, await loadConfigFile(v.config ?? DEFAULT_CONFIG_PATH), need(v, 'pool'), need(v, 'url'));
      return print(w, `${w.url} in pool ${w.pool} is draining (no new calls) until ${isoSeconds(w.expiresAt)}\n`);
    }
    case 'workers list': {
      const ws = await admin.listWorkers(ctx, await loadConfigFile(v.config ?? DEFAULT_CONFIG_PATH), need(v, 'pool'));
      return print(ws, table(['URL', 'STATE', 'EXPIRES', 'REGISTERED'], ws.map((w) => [w.url, w.state, isoSeconds(w.expiresAt), w.registeredAt])));
    }
    default:
      throw new CommandLineError(`unknown command "${pos.join(' ')}"`);
  }
}

/** Epoch seconds as an ISO time. */
function isoSeconds(s: number): string {
  return new Date(s * 1000).toISOString();
}

/** `1 open request`, `2 open requests`. */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function describeLimits(l: TenantLimits | undefined): string {
  if (!l) return 'unlimited';
  const parts = [l.rpm && `rpm ${l.rpm}`, l.tpm && `tpm ${l.tpm}`, l.monthlyTokens && `monthly tokens ${l.monthlyTokens}`].filter(Boolean);
  return parts.length ? parts.join(', ') : 'unlimited';
}

function tenantsTable(ts: readonly TenantRecord[]): string {
  const rows = ts.map((t) => [
    t.id,
    t.disabled ? 'disabled' : 'active',
    t.tiers.join(','),
    TIER_NAMES.filter((n) => t.limits[n]).map((n) => `${n}: ${describeLimits(t.limits[n])}`).join('; ') || '-',
    t.createdAt,
  ]);
  return table(['TENANT', 'STATUS', 'TIERS', 'LIMITS', 'CREATED'], rows);
}

function keysTable(ks: readonly ApiKeyRecord[]): string {
  return table(['KEY_ID', 'STATUS', 'CREATED', 'REVOKED'], ks.map((k) => [k.keyId, k.revokedAt ? 'revoked' : k.disabled ? 'disabled' : 'active', k.createdAt, k.revokedAt ?? '-']));
}

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)\n';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}
