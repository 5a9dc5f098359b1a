/**
 * Orchestration of `npm run soak`: starts what a user would (a `splitserve store`, three
 * `splitserve sim` engines, `splitserve start --store …` over them), offers a fixed-rate open-loop
 * load for N minutes (mixed streams and JSON answers, both tiers, four tenants, some client aborts)
 * while the engines' faults change at random (seeded) and an operator makes admin changes (and
 * restarts the gateway once), then checks the changes held, stops the gateway, reads the usage
 * records back from the store and builds the ledger (ledger.ts). Everything listens on 127.0.0.1;
 * every wait is bounded; children are stopped on exit and on Ctrl-C.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { mulberry32, randomInt } from '../../sim/prng.ts';
import type { Random } from '../../sim/prng.ts';
import { SOURCE_CLI } from '../build.ts';
import { ProcessGroup } from '../processes.ts';
import type { Service } from '../processes.ts';
import type { AdminChange } from './admin-changes.ts';
import { ADMIN_CHANGES, checkChanges, makeChange } from './admin-changes.ts';
import type { RequestResult, RequestSpec } from './client.ts';
import { sendRequest } from './client.ts';
import type { FaultChange } from './fault-schedule.ts';
import { faultPlan, supportedFaultFields } from './fault-schedule.ts';
import type { AdminCheck, Ledger, SentRequest } from './ledger.ts';
import { buildLedger } from './ledger.ts';
import type { ProcessSample } from './sampler.ts';
import { ProcessSampler } from './sampler.ts';
import type { KeyName, SoakSim, SoakTenant } from './soak-config.ts';
import { CONFIG_KEYS, KEY_TENANT, SOAK_SIMS, SOAK_TENANTS, soakConfig, TENANT_SHARES } from './soak-config.ts';

/** Gateway runtimes (`splitserve start --runtime`). */
export const SOAK_RUNTIMES = ['stack', 'node'] as const;
/** A {@link SOAK_RUNTIMES} value. */
export type SoakRuntime = (typeof SOAK_RUNTIMES)[number];

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Seconds of load. */
  readonly seconds: number;
  /** Arrivals per second (fixed rate, open loop). */
  readonly rate: number;
  readonly seed: number;
  readonly runtime: SoakRuntime;
  /** Restart the gateway once, at 60% of the load. */
  readonly restart: boolean;
  /** Sampling interval of the gateway's RSS and open descriptors, ms. */
  readonly sampleMs: number;
  /** A request not ended by then is a hang (ms). */
  readonly deadlineMs: number;
}

/** When an admin change or the restart happened. */
export interface TimelineEvent {
  /** Seconds since the load started. */
  readonly t: number;
  readonly event: string;
  readonly detail?: string;
}

/** What a run produced (no keys in it). */
export interface SoakReport {
  readonly startedAt: string;
  readonly options: SoakOptions;
  /** Fault kinds drawn from, and how many changes of each the plan made. */
  readonly faultKinds: Readonly<Record<string, number>>;
  readonly timeline: readonly TimelineEvent[];
  /** Arrivals not sent: while the gateway restarted, or over the in-flight cap. */
  readonly notSent: { readonly restarting: number; readonly inFlightCap: number };
  /** Arrivals sent over 50 ms after their time (the machine was busy). */
  readonly late: number;
  readonly samples: readonly ProcessSample[];
  readonly ledger: Ledger;
  /** Every request sent and what its client saw, in the order they ended (for digging into a ledger). */
  readonly requests: readonly SentRequest[];
}

const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
/** Requests in flight at most (an arrival beyond it is not sent, and counted). */
const MAX_IN_FLIGHT = 2_000;
/** Key cache bound of the gateway (DynamoKeyResolver ttlMs) plus a margin: admin changes have taken effect by then. */
const KEY_CACHE_BOUND_MS = 6_000;
/** How long a stopped gateway may take to drain (10 s by default) and exit before it is killed. */
const GATEWAY_STOP_GRACE_MS = 20_000;
/** Meter flush interval (DynamoUsageMeter) plus a margin. */
const METER_FLUSH_WAIT_MS = 1_500;

/** Fractions of the load at which the admin changes are made. */
const CHANGE_AT: Readonly<Record<AdminChange, number>> = { 'revoke-key': 0.2, 'create-key': 0.3, 'disable-tenant': 0.4, 'lower-limit': 0.5 };
const RESTART_AT = 0.6;

const WORDS = 'prefill decode tokens cache latency throughput engine gateway tenant tier budget stream answer request model batch queue schedule transfer memory'.split(' ');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

function pick<T>(rnd: Random, shares: ReadonlyArray<readonly [T, number]>): T {
  let x = rnd();
  for (const [v, share] of shares) {
    if (x < share) return v;
    x -= share;
  }
  return shares[shares.length - 1]![0];
}

/** The next arrival's request, drawn from `rnd` (the same number of draws whatever is drawn). */
function drawArrival(rnd: Random, createdKeyLive: boolean): { tenant: SoakTenant; keyName: KeyName; spec: Omit<RequestSpec, 'label' | 'key'> } {
  const tenant = pick(rnd, SOAK_TENANTS.map((t) => [t, TENANT_SHARES[t]] as const));
  const keyDraw = rnd();
  const keyName: KeyName =
    tenant === 'acme' ? (keyDraw < 0.5 ? 'acme-a' : 'acme-b') : tenant === 'initech' ? (createdKeyLive && keyDraw < 0.5 ? 'initech-created' : 'initech') : tenant;
  const stream = rnd() < 0.6;
  const tier = rnd() < 0.4 ? 'priority' : 'default';
  const maxTokens = randomInt(rnd, 4, 48);
  const words = randomInt(rnd, 5, 300);
  const abortDraw = rnd();
  const abortAfter = randomInt(rnd, 1, 3);
  const prompt = Array.from({ length: words }, (_, i) => WORDS[(i * 7 + words) % WORDS.length]).join(' ');
  return {
    tenant,
    keyName,
    spec: { stream, tier, maxTokens, prompt, ...(stream && abortDraw < 0.1 && maxTokens > abortAfter + 2 ? { abortAfterChunks: abortAfter } : {}) },
  };
}

async function postFaults(sims: Readonly<Record<SoakSim, Service>>, change: FaultChange): Promise<void> {
  const res = await fetch(`${sims[change.sim].url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(change.faults), signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`POST /sim/faults on ${change.sim}: HTTP ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/** Whether a process is still alive. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to a child's process group, then SIGKILL after `graceMs`; resolves whether it left by itself and when. */
async function stopGateway(pid: number, graceMs: number): Promise<{ clean: boolean; ms: number }> {
  const started = performance.now();
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return { clean: true, ms: 0 };
  }
  while (performance.now() - started < graceMs) {
    if (!alive(pid)) return { clean: true, ms: Math.round(performance.now() - started) };
    await sleep(100);
  }
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  return { clean: false, ms: Math.round(performance.now() - started) };
}

/** The last lines a service printed other than its JSON log lines, on one line (for the timeline). */
function lastLines(service: Service, n = 6): string {
  return service.recentOutput().split('\n').filter((l) => !l.startsWith('{')).slice(-n).join(' | ').slice(0, 1_500);
}

/** The usage table of the store: the local runtime's name, else the only table named *usage*. */
async function usageTable(client: DynamoDBClient): Promise<string> {
  const names = (await client.send(new ListTablesCommand({}))).TableNames ?? [];
  if (names.includes(LOCAL_TABLE_NAMES.usage)) return LOCAL_TABLE_NAMES.usage;
  const found = names.filter((n) => /usage/i.test(n));
  if (found.length !== 1) throw new Error(`cannot tell the usage table among [${names.join(', ')}]`);
  return found[0]!;
}

/** Every usage record of the soak's tenants that started at or after `sinceMs` (epoch). */
async function readRecords(storeUrl: string, sinceMs: number): Promise<UsageRecord[]> {
  const client = new DynamoDBClient({ endpoint: storeUrl, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const table = await usageTable(client);
    const months = [...new Set([sinceMs, Date.now()].map((ms) => new Date(ms).toISOString().slice(0, 7)))].map((m) => Date.parse(`${m}-01T00:00:00Z`));
    const out: UsageRecord[] = [];
    for (const tenant of SOAK_TENANTS) for (const month of months) out.push(...(await usageRecords(client, table, tenant, month)));
    return out.filter((r) => r.startedAt >= sinceMs);
  } finally {
    client.destroy();
  }
}

/**
 * Runs the soak; `progress` gets a line per step.
 *
 * @example
 * const report = await runSoak({ seconds: 300, rate: 20, seed: 1, runtime: 'stack', restart: true, sampleMs: 2000, deadlineMs: 30_000 }, console.error);
 * report.ledger.balanced; // true
 */
export async function runSoak(options: SoakOptions, progress: (line: string) => void): Promise<SoakReport> {
  const procs = new ProcessGroup();
  const removeHandlers = procs.installSignalHandlers();
  const dir = mkdtempSync(join(tmpdir(), 'splitserve-soak-'));
  const startedAt = new Date().toISOString();
  try {
    progress('starting the store and the engines (splitserve store, splitserve sim × 3)…');
    const cli = (name: string, args: readonly string[], timeoutMs = 60_000): Promise<Service> => procs.spawnService({ name, args: [...SOURCE_CLI, ...args], ready: READY, timeoutMs });
    const [store, prefill, decode, gpu] = await Promise.all([
      cli('store', ['store', '--port', '0']),
      ...(Object.keys(SOAK_SIMS) as SoakSim[]).map((sim, i) =>
        cli(`sim ${sim}`, ['sim', '--profile', SOAK_SIMS[sim], '--port', '0', '--seed', String(options.seed + i), '--scheduling-policy', 'priority']),
      ),
    ]);
    const sims: Record<SoakSim, Service> = { prefill: prefill!, decode: decode!, gpu: gpu! };
    const configFile = join(dir, 'soak.config.json');
    writeFileSync(configFile, JSON.stringify(soakConfig({ prefill: prefill!.url, decode: decode!.url, gpu: gpu!.url }), null, 2));
    const startGateway = (): Promise<Service> =>
      cli('splitserve', ['start', '--runtime', options.runtime, '--config', configFile, '--store', store!.url, '--port', '0', '--log-level', 'warn'], 240_000);
    progress(`starting the gateway (splitserve start --runtime ${options.runtime} --store ${store!.url})…`);
    let gateway: Service | undefined = await startGateway();
    let baseUrl = gateway.url;
    progress(`gateway at ${baseUrl} (pid ${gateway.pid})`);

    const durationMs = options.seconds * 1000;
    const plan = faultPlan({ seed: options.seed, durationMs });
    const fields = supportedFaultFields();
    const faultKinds: Record<string, number> = {};
    for (const c of plan) faultKinds[c.kind] = (faultKinds[c.kind] ?? 0) + 1;
    progress(`fault plan: ${plan.length} changes (${Object.entries(faultKinds).map(([k, n]) => `${k} ${n}`).join(', ')}); simulator fault fields: ${[...fields].join(', ')}`);

    const t0 = performance.now();
    const runStartEpoch = Date.now();
    const since = (): number => Math.round((performance.now() - t0) / 100) / 10;
    const timeline: TimelineEvent[] = [];
    const note = (event: string, detail?: string): void => {
      timeline.push({ t: since(), event, ...(detail ? { detail } : {}) });
      progress(`[${since().toFixed(1)} s] ${event}${detail ? `: ${detail}` : ''}`);
    };
    const sampler = new ProcessSampler(() => gateway?.pid, t0, options.sampleMs);
    sampler.start();

    // Faults: one timeline, each change posted at its time (a failed post is noted, not fatal).
    let stopped = false;
    const faultsDone = (async () => {
      for (const change of plan) {
        await sleep(t0 + change.atMs - performance.now());
        if (stopped) return;
        try {
          await postFaults(sims, change);
        } catch (err) {
          note('fault change failed', (err as Error).message);
        }
      }
    })();

    // Admin changes, each at its time (an admin CLI run takes a second or two: they may overlap).
    const made = new Set<AdminChange>();
    let createdKey: { key: string; keyId: string } | undefined;
    let lastChangeAt = 0;
    const changesDone = Promise.all(
      ADMIN_CHANGES.map(async (change) => {
        await sleep(t0 + CHANGE_AT[change] * durationMs - performance.now());
        try {
          const out = await makeChange(store!.url, change);
          if (out) createdKey = out;
          made.add(change);
          lastChangeAt = performance.now();
          note(`admin: ${change}`);
        } catch (err) {
          note(`admin: ${change} failed`, (err as Error).message);
        }
      }),
    );

    // The restart: arrivals pause, the gateway is stopped as an operator would (SIGTERM: it
    // drains), and started again on the same store.
    let paused = false;
    let restartError: Error | undefined;
    const stops: Array<{ pid: number; clean: boolean; ms: number }> = [];
    const restartDone = (async () => {
      if (!options.restart) return;
      await sleep(t0 + RESTART_AT * durationMs - performance.now());
      paused = true;
      // Requests sent just before the pause reach admission before the drain refuses new ones.
      await sleep(300);
      const old = gateway!;
      note('restart: stopping the gateway (SIGTERM)', `pid ${old.pid}`);
      const stop = await stopGateway(old.pid, GATEWAY_STOP_GRACE_MS);
      stops.push({ pid: old.pid, ...stop });
      gateway = undefined;
      note(stop.clean ? `restart: the gateway exited in ${stop.ms} ms` : `restart: the gateway did not exit within ${GATEWAY_STOP_GRACE_MS} ms and was killed`, stop.clean ? undefined : lastLines(old));
      gateway = await startGateway();
      baseUrl = gateway.url;
      paused = false;
      note('restart: the gateway is back', `${baseUrl} (pid ${gateway.pid})`);
    })().catch((err: Error) => {
      // Kept for after the load (a rejection nobody awaits yet would end the process).
      restartError = err;
      note('restart failed', err.message.split('\n')[0]);
    });

    // The open loop: arrival i at t0 + i / rate, whatever the answers.
    const rnd = mulberry32(options.seed);
    const sent: SentRequest[] = [];
    const pending: Array<Promise<void>> = [];
    const notSent = { restarting: 0, inFlightCap: 0 };
    let inFlight = 0;
    let late = 0;
    const total = Math.floor(options.seconds * options.rate);
    const send = (label: string, tenant: SoakTenant, phase: SentRequest['phase'], spec: RequestSpec): Promise<RequestResult> => {
      inFlight += 1;
      const p = sendRequest(spec, { baseUrl, deadlineMs: options.deadlineMs }).then((result) => {
        inFlight -= 1;
        sent.push({ label, tenant, phase, stream: spec.stream, result });
        return result;
      });
      pending.push(p.then(() => undefined));
      return p;
    };
    progress(`load: ${total} arrivals at ${options.rate}/s over ${options.seconds} s…`);
    let lastReport = performance.now();
    for (let i = 0; i < total; i += 1) {
      const due = t0 + (i * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      else if (wait < -50) late += 1;
      const arrival = drawArrival(rnd, createdKey !== undefined);
      if (paused) {
        notSent.restarting += 1;
        continue;
      }
      if (inFlight >= MAX_IN_FLIGHT) {
        notSent.inFlightCap += 1;
        continue;
      }
      const key = arrival.keyName === 'initech-created' ? createdKey!.key : CONFIG_KEYS[arrival.keyName];
      void send(`#${i}`, KEY_TENANT[arrival.keyName], 'load', { label: `#${i}`, key, ...arrival.spec });
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        progress(`[${since().toFixed(0)} s] ${i + 1}/${total} sent, ${inFlight} in flight, ${sent.filter((s) => s.result.outcome === 'succeeded').length} served so far`);
      }
    }
    progress('load done; waiting for the requests in flight…');
    await Promise.all(pending);
    stopped = true;
    await Promise.all([faultsDone, changesDone, restartDone]);
    if (restartError) throw restartError;
    await Promise.all((Object.keys(sims) as SoakSim[]).map((sim) => postFaults(sims, { atMs: 0, sim, kind: 'none', faults: {} })));
    note('load ended, faults cleared');

    // The checks: after the key cache bound, one request with each changed key.
    await sleep(lastChangeAt + KEY_CACHE_BOUND_MS - performance.now());
    const check = (name: string, keyName: KeyName, key: string): Promise<RequestResult> =>
      send(`check:${name}`, KEY_TENANT[keyName], 'check', { label: `check:${name}`, key, stream: false, tier: 'default', maxTokens: 8, prompt: 'soak check' });
    const [revoked, disabledTenant, untouchedKey, created] = await Promise.all([
      check('revoked', 'acme-a', CONFIG_KEYS['acme-a']),
      check('disabled', 'hooli', CONFIG_KEYS.hooli),
      check('untouched', 'acme-b', CONFIG_KEYS['acme-b']),
      createdKey ? check('created', 'initech-created', createdKey.key) : Promise.resolve(undefined),
    ]);
    const admin = await checkChanges(store!.url, made, {
      revoked: revoked!,
      disabledTenant: disabledTenant!,
      untouchedKey: untouchedKey!,
      createdKey: created,
      globexRateLimited: sent.filter((s) => s.tenant === 'globex' && s.result.code === 'rate_limit_exceeded').length,
    }, createdKey?.keyId);

    // Stop the gateway as an operator would (it drains and flushes its meter), then read the records.
    await sleep(METER_FLUSH_WAIT_MS);
    sampler.stop();
    const final = gateway!;
    const stop = await stopGateway(final.pid, GATEWAY_STOP_GRACE_MS);
    stops.push({ pid: final.pid, ...stop });
    gateway = undefined;
    note(stop.clean ? `gateway stopped in ${stop.ms} ms` : `the gateway did not exit within ${GATEWAY_STOP_GRACE_MS} ms and was killed`, stop.clean ? `pid ${final.pid}` : lastLines(final));
    const records = await readRecords(store!.url, runStartEpoch - 1_000);
    progress(`read ${records.length} usage records back from the store`);
    const lifecycle: AdminCheck[] = stops.map((st, i) => ({
      name: i < stops.length - 1 ? 'the gateway stops on SIGTERM (restart)' : 'the gateway stops on SIGTERM (end)',
      pass: st.clean,
      detail: st.clean ? `pid ${st.pid} exited in ${st.ms} ms` : `pid ${st.pid} still ran ${GATEWAY_STOP_GRACE_MS} ms after SIGTERM and was killed`,
    }));
    const ledger = buildLedger(sent, records, [...admin, ...lifecycle]);
    return { startedAt, options, faultKinds, timeline, notSent, late, samples: sampler.samples, ledger, requests: sent };
  } finally {
    await procs.stopAll();
    removeHandlers();
    rmSync(dir, { recursive: true, force: true });
  }
}
