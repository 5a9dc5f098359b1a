import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCommand, STACK_TABLE_OUTPUTS, type AdminIO } from '../../bin/commands/admin.ts';
import { STACK_OUTPUTS } from '../../lib/splitserve-stack.ts';
import { RateLimitError } from '../../lambda/core/errors.ts';
import * as admin from '../../lambda/store/admin.ts';
import { DynamoAdmission } from '../../lambda/store/admission.ts';
import { hashApiKey } from '../../lambda/store/api-keys.ts';
import { AlreadyExistsError, InvalidArgumentError, NotFoundInStoreError } from '../../lambda/store/errors.ts';
import { DynamoKeyResolver } from '../../lambda/store/key-resolver.ts';
import { OpenRequestJournal } from '../../lambda/store/open-requests.ts';
import { createTables, tableDefinitions, type TableNames } from '../../lambda/store/tables.ts';
import { ConfigTable } from '../../lambda/store/config-table.ts';
import { DynamoUsageMeter } from '../../lambda/store/usage-meter.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { freshTables } from './helpers.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

let store: EmbeddedDynamo;
let names: TableNames;

beforeAll(async () => {
  store = await startEmbeddedDynamo();
  names = await freshTables(store);
});
afterAll(async () => {
  await store.close();
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: AdminIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
  const code = await adminCommand([...args, '--endpoint', store.endpoint, '--config-table', names.config, '--usage-table', names.usage], io);
  return { code, out, err };
}

const resolve = (key: string) => new DynamoKeyResolver(store.client, names.config).resolve(hashApiKey(key));

describe('admin operations', () => {
  it('validate their arguments', async () => {
    const ctx = { client: store.client, tables: names };
    await expect(admin.createTenant(ctx, { id: 'bad id!', tiers: ['default'] })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => admin.parseTiers('priority,turbo')).toThrow(InvalidArgumentError);
    expect(admin.parseTiers('fast, default,priority')).toEqual(['priority', 'default']);
    await admin.createTenant(ctx, { id: 'ops', tiers: ['default'] });
    await expect(admin.createTenant(ctx, { id: 'ops', tiers: ['default'] })).rejects.toBeInstanceOf(AlreadyExistsError);
    await expect(admin.createKey(ctx, 'nobody')).rejects.toBeInstanceOf(NotFoundInStoreError);
    await expect(admin.getUsage(ctx, 'ops', '2025-06-30', '2025-06-01')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(admin.getUsage(ctx, 'ops', '2025-02-29', '2025-03-01')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(['2028-02-29', '2026-12-31', '2026-02-30', '2026-13-01', '2026-1-01', '2026-00-10'].map(admin.isCalendarDay)).toEqual([true, true, false, false, false, false]);
    expect(() => admin.parseTiers('priority,flex', ['priority', 'default'])).toThrow('unknown tier "flex" (known: priority, default)');
  });
});

describe('splitserve admin', () => {
  it('manages a tenant, its keys, tiers and limits end to end', async () => {
    expect((await cli('tenant', 'create', '--tenant', 'acme', '--tiers', 'default')).code).toBe(0);
    const created = await cli('key', 'create', '--tenant', 'acme', '--json');
    expect(created.code).toBe(0);
    const { key, keyId } = JSON.parse(created.out) as { key: string; keyId: string };
    expect(key).toMatch(/^sk-ss-/);
    expect((await resolve(key))?.tenant).toMatchObject({ id: 'acme', tiers: ['default'], limits: {} });

    const list = await cli('key', 'list', '--tenant', 'acme');
    expect(list.out).toContain(keyId);
    expect(list.out).not.toContain(key);
    expect(list.out).not.toContain(hashApiKey(key));

    expect((await cli('tiers', 'set', '--tenant', 'acme', 'priority,default')).code).toBe(0);
    const limits = await cli('limits', 'set', '--tenant', 'acme', '--tier', 'priority', '--rpm', '2', '--tpm', '5000');
    expect(limits.code).toBe(0);
    expect(limits.out).toContain('rpm 2, tpm 5000');
    const principal = await resolve(key);
    expect(principal?.tenant.tiers).toEqual(['priority', 'default']);
    expect(principal?.tenant.limits).toEqual({ priority: { rpm: 2, tpm: 5000 } });

    const admission = new DynamoAdmission(store.client, names.usage);
    const admit = () => admission.admit({ requestId: 'r', tenant: principal!.tenant, tier: 'priority', reserveTokens: 10 });
    await admit();
    await admit();
    await expect(admit()).rejects.toBeInstanceOf(RateLimitError);

    const tenants = JSON.parse((await cli('tenant', 'list', '--json')).out) as Array<{ id: string }>;
    expect(tenants.map((t) => t.id)).toContain('acme');
    const human = (await cli('tenant', 'list')).out;
    expect(human).toMatch(/^TENANT\s+STATUS\s+TIERS\s+LIMITS\s+CREATED/);
    expect(human).toContain('priority: rpm 2, tpm 5000');

    expect((await cli('limits', 'set', '--tenant', 'acme', '--tier', 'priority')).out).toContain('unlimited');
    expect((await resolve(key))?.tenant.limits).toEqual({});

    expect((await cli('tenant', 'disable', '--tenant', 'acme')).code).toBe(0);
    expect((await resolve(key))?.tenant.disabled).toBe(true);
    expect((await cli('tenant', 'enable', '--tenant', 'acme')).code).toBe(0);
    expect((await resolve(key))?.tenant.disabled).toBe(false);
  });

  it('takes a key id that starts with a dash (one in 64 do) after a separate --key-id', async () => {
    await cli('tenant', 'create', '--tenant', 'dash', '--tiers', 'default');
    const missing = await cli('key', 'revoke', '--tenant', 'dash', '--key-id', '-AbC_123');
    expect(missing.err).not.toContain('ambiguous');
    expect(missing.code).toBe(1); // parsed, then not found: an operation failure, not bad arguments
  });

  it('rotates and revokes keys', async () => {
    await cli('tenant', 'create', '--tenant', 'rot', '--tiers', 'default');
    const first = JSON.parse((await cli('key', 'create', '--tenant', 'rot', '--json')).out) as { key: string; keyId: string };
    const rotated = await cli('key', 'rotate', '--tenant', 'rot', '--key-id', first.keyId);
    expect(rotated.code).toBe(0);
    const newKey = rotated.out.trim().split('\n').at(-1)!;
    expect(newKey).toMatch(/^sk-ss-/);
    expect(await resolve(first.key)).toBeUndefined();
    expect((await resolve(newKey))?.tenant.id).toBe('rot');
    const keys = JSON.parse((await cli('key', 'list', '--tenant', 'rot', '--json')).out) as Array<{ keyId: string; revokedAt?: string }>;
    expect(keys).toHaveLength(2);
    expect(keys.find((k) => k.keyId === first.keyId)?.revokedAt).toBeDefined();
    const live = keys.find((k) => k.keyId !== first.keyId)!;
    expect((await cli('key', 'revoke', '--tenant', 'rot', '--key-id', live.keyId)).code).toBe(0);
    expect(await resolve(newKey)).toBeUndefined();
    expect((await cli('key', 'rotate', '--tenant', 'rot', '--key-id', first.keyId)).code).toBe(1);
  });

  it('reports usage per tier: tokens, cost units, SLO attainment and sheds, for one tenant or every tenant', async () => {
    await cli('tenant', 'create', '--tenant', 'beta', '--tiers', 'default');
    const meter = new DynamoUsageMeter(store.client, names.usage, { flushIntervalMs: 0 });
    const base = { tenantId: 'acme', tierAsked: 'priority', route: 'aggregated', pools: ['gpu'], model: 'm', ttftMs: 5, tpotMs: 2, totalMs: 9, outcome: 'ok' as const };
    const judged = (sloMet: boolean | null, costUnits: number) => ({ sloMet, costUnits });
    meter.record({ ...base, ...judged(true, 22), requestId: 'a', tierServed: 'priority', promptTokens: 10, completionTokens: 1, startedAt: Date.UTC(2025, 5, 1, 1) });
    meter.record({ ...base, ...judged(false, 44), requestId: 'b', tierServed: 'priority', promptTokens: 20, completionTokens: 2, startedAt: Date.UTC(2025, 5, 30, 23) });
    meter.record({ ...base, ...judged(true, 44), requestId: 'c', tierServed: 'default', promptTokens: 40, completionTokens: 4, startedAt: Date.UTC(2025, 5, 2) });
    meter.record({ ...base, ...judged(null, 88), requestId: 'd', tierServed: 'default', promptTokens: 80, completionTokens: 8, startedAt: Date.UTC(2025, 6, 1) });
    meter.record({ ...base, ...judged(null, 0), requestId: 'e', tierServed: 'default', outcome: 'shed', ttftMs: null, tpotMs: null, promptTokens: 0, completionTokens: 0, startedAt: Date.UTC(2025, 5, 3) });
    meter.record({ ...base, ...judged(true, 11), tenantId: 'beta', requestId: 'f', tierServed: 'default', promptTokens: 10, completionTokens: 1, startedAt: Date.UTC(2025, 5, 3) });
    await meter.flush();
    const r = await cli('usage', '--tenant', 'acme', '--from', '2025-06-01', '--to', '2025-06-30', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).tiers).toEqual([
      { tier: 'default', requests: 2, promptTokens: 40, completionTokens: 4, errors: 0, aborted: 0, costUnits: 44, sloMet: 1, sloMissed: 0, sloAttainment: 1, shed: 1, interrupted: 0 },
      { tier: 'priority', requests: 2, promptTokens: 30, completionTokens: 3, errors: 0, aborted: 0, costUnits: 66, sloMet: 1, sloMissed: 1, sloAttainment: 0.5, shed: 0, interrupted: 0 },
    ]);
    const human = await cli('usage', '--tenant', 'acme', '--from', '2025-06-01', '--to', '2025-06-30');
    expect(human.out).toMatch(/acme\s+priority\s+2\s+30\s+3\s+66\s+50\.0% \(1\/2\)\s+0/);
    expect(human.out).toMatch(/acme\s+default\s+2\s+40\s+4\s+44\s+100\.0% \(1\/1\)\s+1/);
    expect(human.out).not.toMatch(/beta/);
    // Every tenant, without --tenant: SLO attainment per tier and tenant.
    const all = await cli('usage', '--from', '2025-06-01', '--to', '2025-06-30', '--json');
    const byTenant = Object.fromEntries((JSON.parse(all.out) as Array<{ tenantId: string; tiers: Array<{ tier: string; sloAttainment: number | null }> }>).map((t) => [t.tenantId, t.tiers]));
    expect(byTenant.beta).toEqual([expect.objectContaining({ tier: 'default', requests: 1, sloAttainment: 1, costUnits: 11 })]);
    expect(byTenant.acme?.map((t) => t.sloAttainment)).toEqual([1, 0.5]);
  });

  it('exits 2 on bad arguments and 1 on failed operations, without a stack trace', async () => {
    expect((await cli('key', 'create')).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('limits', 'set', '--tenant', 'acme', '--tier', 'priority', '--rpm', '-3')).code).toBe(2);
    const missing = await cli('key', 'create', '--tenant', 'nobody', '--json');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out)).toEqual({ error: { message: 'tenant "nobody" does not exist', code: 'not_found' } });
    expect(missing.err).not.toContain('    at ');
    expect(await adminCommand(['tenant', 'list'], { out: () => undefined, err: () => undefined })).toBe(2);
  });

  it('refuses days that do not exist and tiers the config does not define, in one line and where the help is', async () => {
    for (const [args, message] of [
      [['usage', '--from', '2026-13-01', '--to', '2026-12-31'], 'splitserve admin: --from "2026-13-01" is not a day of the calendar: yyyy-mm-dd'],
      [['usage', '--from', '2026-02-01', '--to', '2026-02-30'], 'splitserve admin: --to "2026-02-30" is not a day of the calendar: yyyy-mm-dd'],
      [['limits', 'set', '--tenant', 'acme', '--tier', 'turbo'], 'splitserve admin: unknown tier "turbo" (known: priority, default)'],
      [['tenant', 'create', '--tenant', 'flexy', '--tiers', 'flex'], 'splitserve admin: unknown tier "flex" (known: priority, default)'],
      [['tenant', 'list', '--bogus'], "splitserve admin: Unknown option '--bogus'"],
    ] as const) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`${message}\nsee: npm run admin -- --help\n`);
    }
    expect((await cli('usage', '--from', '2028-02-29', '--to', '2028-02-29')).code).toBe(0);
    // A config that defines flex makes it a known tier.
    const dir = await mkdtemp(join(tmpdir(), 'splitserve-admin-'));
    try {
      const config = join(dir, 'flex.json');
      await writeFile(config, JSON.stringify({
        pools: { gpu: { protocol: 'openai', endpoints: ['http://127.0.0.1:9'] } },
        models: { m: { pools: ['gpu'] } },
        tiers: { flex: { route: { mode: 'aggregated', pool: 'gpu' } } },
      }));
      expect((await cli('tenant', 'create', '--tenant', 'flexy', '--tiers', 'flex', '--config', config)).code).toBe(0);
      expect((await cli('tenant', 'create', '--tenant', 'flexy2', '--tiers', 'default', '--config', config)).err).toContain('unknown tier "default" (known: flex)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says in one line and a hint that nothing answers at the endpoint', async () => {
    let err = '';
    const code = await adminCommand(['tenant', 'list', '--endpoint', 'http://127.0.0.1:9', '--config-table', 'c', '--usage-table', 'u'], { out: () => undefined, err: (t) => void (err += t) });
    expect(code).toBe(1);
    expect(err).toBe('splitserve admin: nothing answers at 127.0.0.1:9\n  hint: check the URL, and that the store or gateway is running\n');
  });

  it('finds the tables of a local endpoint by name when none are given', async () => {
    const other = await startEmbeddedDynamo();
    try {
      await createTables(other.client, tableDefinitions({ config: 'Splitserve-ConfigTable1A2B', usage: 'Splitserve-UsageTable3C4D' }));
      const io = { out: () => undefined, err: () => undefined };
      expect(await adminCommand(['tenant', 'create', '--tenant', 'found', '--endpoint', other.endpoint], io)).toBe(0);
      expect((await new ConfigTable(other.client, 'Splitserve-ConfigTable1A2B').getTenant('found'))?.id).toBe('found');
      await createTables(other.client, tableDefinitions({ config: 'another-config', usage: 'another-usage' }));
      expect(await adminCommand(['tenant', 'list', '--endpoint', other.endpoint], io)).toBe(2);
    } finally {
      await other.close();
    }
  });

  it('sweep bills what a killed gateway left open: past the deadline, or at once with --dead-local', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    const journal = new OpenRequestJournal(store.client, names.usage, { logger: silentLogger, instanceId: `${hostname()}/${child.pid}/admin` });
    const base = { tenantId: 'swept', tierAsked: 'auto', tierServed: 'default', route: 'aggregated', pools: ['gpu'], model: 'm', promptTokens: 5, reservedTokens: 25, reservedCost: 25 };
    await journal.open({ ...base, requestId: 'killed-1', startedAt: Date.now() }).ready();
    const early = await cli('sweep', '--json');
    expect(early.code).toBe(0);
    expect(JSON.parse(early.out)).toEqual({ items: 0, markers: 0, interrupted: 0, alreadyRecorded: 0 });
    const now = await cli('sweep', '--dead-local');
    expect(now.code).toBe(0);
    expect(now.out).toBe('swept 1 marker item (1 open request): 1 billed as interrupted, 0 already recorded\n');
    const day = new Date().toISOString().slice(0, 10);
    const usage = await cli('usage', '--tenant', 'swept', '--from', day, '--to', day, '--json');
    expect(JSON.parse(usage.out).tiers).toEqual([expect.objectContaining({ tier: 'default', requests: 1, interrupted: 1, costUnits: 25 })]);
  });

  it('reads table names from the stack outputs the CDK stack defines', () => {
    expect(STACK_TABLE_OUTPUTS.config).toBe(STACK_OUTPUTS.configTableName);
    expect(STACK_TABLE_OUTPUTS.usage).toBe(STACK_OUTPUTS.usageTableName);
  });
});
