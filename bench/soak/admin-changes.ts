/**
 * The admin changes the soak makes while the load runs, through the admin CLI as an operator would
 * (`splitserve admin … --endpoint <store> --json`, a child process each), and the checks at the end
 * that they held: in the store (the CLI's listings) and at the gateway (a revoked key answers 401,
 * a disabled tenant's key 403, the created key and the other keys are served).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { hashApiKey } from '../../lambda/core/auth.ts';
import { derivedKeyId } from '../../lambda/store/api-keys.ts';
import { SOURCE_CLI } from '../build.ts';
import { nodeBinary, REPO_ROOT } from '../processes.ts';
import type { RequestResult } from './client.ts';
import { CLIENT_OUTCOMES } from './client.ts';
import type { AdminCheck } from './ledger.ts';
import { CONFIG_KEYS, LOWERED_GLOBEX_RPM } from './soak-config.ts';

const run = promisify(execFile);

/** Bound of one admin CLI run. */
const ADMIN_TIMEOUT_MS = 60_000;

/**
 * Runs `splitserve admin <args> --endpoint <store> --json` and resolves its parsed output.
 *
 * @throws Error with the CLI's stderr when it exits non-zero
 */
export async function adminCli(storeUrl: string, args: readonly string[]): Promise<unknown> {
  try {
    const { stdout } = await run(nodeBinary(), [...SOURCE_CLI, 'admin', ...args, '--endpoint', storeUrl, '--json'], { cwd: REPO_ROOT, timeout: ADMIN_TIMEOUT_MS, killSignal: 'SIGKILL' });
    return JSON.parse(stdout) as unknown;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`splitserve admin ${args.slice(0, 2).join(' ')}: ${(e.stderr ?? e.message).trim().split('\n')[0]}`);
  }
}

/** The admin changes, in the order the soak makes them. */
export const ADMIN_CHANGES = ['revoke-key', 'create-key', 'disable-tenant', 'lower-limit'] as const;
/** One of {@link ADMIN_CHANGES}. */
export type AdminChange = (typeof ADMIN_CHANGES)[number];

/** The key id of a configured key (the store derives it from the key's hash). */
export function configKeyId(key: string): string {
  return derivedKeyId(hashApiKey(key));
}

/**
 * Makes one change. `create-key` resolves the new key and its id (the key is kept in memory
 * only, never printed); the others resolve undefined.
 */
export async function makeChange(storeUrl: string, change: AdminChange): Promise<{ key: string; keyId: string } | undefined> {
  switch (change) {
    case 'revoke-key':
      await adminCli(storeUrl, ['key', 'revoke', '--tenant', 'acme', '--key-id', configKeyId(CONFIG_KEYS['acme-a'])]);
      return undefined;
    case 'create-key': {
      const out = (await adminCli(storeUrl, ['key', 'create', '--tenant', 'initech'])) as { key?: unknown; keyId?: unknown };
      if (typeof out.key !== 'string' || typeof out.keyId !== 'string') throw new Error('splitserve admin key create printed no key');
      return { key: out.key, keyId: out.keyId };
    }
    case 'disable-tenant':
      await adminCli(storeUrl, ['tenant', 'disable', '--tenant', 'hooli']);
      return undefined;
    case 'lower-limit':
      await adminCli(storeUrl, ['limits', 'set', '--tenant', 'globex', '--tier', 'default', '--rpm', String(LOWERED_GLOBEX_RPM)]);
      return undefined;
  }
}

interface TenantListing {
  readonly id: string;
  readonly disabled?: boolean;
  readonly limits?: Record<string, { rpm?: number; tpm?: number; monthlyTokens?: number } | undefined>;
}
interface KeyListing {
  readonly keyId: string;
  readonly revokedAt?: string;
  readonly disabled?: boolean;
}

/** What the gateway answered to the final requests with each key (see run.ts). */
export interface GatewayAnswers {
  readonly revoked: RequestResult;
  readonly disabledTenant: RequestResult;
  readonly createdKey: RequestResult | undefined;
  readonly untouchedKey: RequestResult;
  /** globex's requests refused with 429 `rate_limit_exceeded` over the run (its limit was lowered). */
  readonly globexRateLimited: number;
}

function answer(r: RequestResult): string {
  return r.outcome === CLIENT_OUTCOMES.openaiError ? `${r.status} ${r.code}` : r.outcome === CLIENT_OUTCOMES.succeeded ? '200 served' : `${r.outcome}${r.detail ? ` (${r.detail})` : ''}`;
}

/**
 * The end-of-run checks of the changes made (`made`): the store's state through the admin CLI, and
 * the gateway's answers.
 */
export async function checkChanges(storeUrl: string, made: ReadonlySet<AdminChange>, answers: GatewayAnswers, createdKeyId: string | undefined): Promise<AdminCheck[]> {
  const checks: AdminCheck[] = [];
  const tenants = (await adminCli(storeUrl, ['tenant', 'list'])) as TenantListing[];
  const tenant = (id: string): TenantListing | undefined => tenants.find((t) => t.id === id);
  if (made.has('revoke-key')) {
    const keys = (await adminCli(storeUrl, ['key', 'list', '--tenant', 'acme'])) as KeyListing[];
    const k = keys.find((x) => x.keyId === configKeyId(CONFIG_KEYS['acme-a']));
    const stored = k?.revokedAt !== undefined;
    const refused = answers.revoked.status === 401 && answers.revoked.code === 'invalid_api_key';
    checks.push({ name: 'revoked key stays revoked', pass: stored && refused, detail: `store: ${k ? (stored ? `revoked at ${k.revokedAt}` : 'live') : 'missing'}; gateway: ${answer(answers.revoked)}` });
  }
  if (made.has('create-key')) {
    const keys = (await adminCli(storeUrl, ['key', 'list', '--tenant', 'initech'])) as KeyListing[];
    const k = keys.find((x) => x.keyId === createdKeyId);
    const live = k !== undefined && k.revokedAt === undefined && k.disabled !== true;
    const served = answers.createdKey?.outcome === CLIENT_OUTCOMES.succeeded;
    checks.push({ name: 'created key stays live', pass: live && served, detail: `store: ${k ? (live ? 'live' : 'not live') : 'missing'}; gateway: ${answers.createdKey ? answer(answers.createdKey) : 'not asked'}` });
  }
  if (made.has('disable-tenant')) {
    const t = tenant('hooli');
    const refused = answers.disabledTenant.status === 403;
    checks.push({ name: 'disabled tenant stays disabled', pass: t?.disabled === true && refused, detail: `store: ${t ? (t.disabled ? 'disabled' : 'enabled') : 'missing'}; gateway: ${answer(answers.disabledTenant)}` });
  }
  if (made.has('lower-limit')) {
    const rpm = tenant('globex')?.limits?.default?.rpm;
    checks.push({ name: 'lowered limit stays lowered', pass: rpm === LOWERED_GLOBEX_RPM, detail: `store: globex default rpm ${rpm ?? 'unlimited'} (set to ${LOWERED_GLOBEX_RPM}); gateway: ${answers.globexRateLimited} of globex's requests answered 429 rate_limit_exceeded` });
  }
  checks.push({ name: 'an untouched key is served', pass: answers.untouchedKey.outcome === CLIENT_OUTCOMES.succeeded, detail: `gateway: ${answer(answers.untouchedKey)}` });
  return checks;
}
