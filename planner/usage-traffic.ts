/**
 * A traffic description measured from the Usage table: every metered request of the given tenants
 * that started in a window gives the rate, log-normal prompt and completion shapes fitted to the
 * requests' token counts, and each tier's share (by the tier the client asked for). The tiers'
 * SLOs are not metered: they come from the traffic file or `--tier` flags, by tier name, or from
 * the default tiers of the same name.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { UsageRecord } from '../lambda/core/ports.ts';
import { usageRecords } from '../lambda/store/usage-report.ts';
import { fitTokens } from './bursty.ts';
import type { Tier } from './traffic.ts';
import { DEFAULT_TIERS, TrafficError } from './traffic.ts';

/** The part of a traffic description measured from usage (the rest comes from the file or flags). */
export interface MeasuredTraffic {
  readonly ratePerSecond: number;
  readonly prompt: ReturnType<typeof fitTokens>;
  readonly completion: ReturnType<typeof fitTokens>;
  readonly tiers: readonly Tier[];
  /** Requests counted in the window. */
  readonly requests: number;
}

/**
 * Reads the usage records of `tenants` that started in `[fromMs, toMs)` (one query per tenant and
 * UTC month of the window).
 *
 * @example
 * const records = await readUsageWindow(client, 'splitserve-usage', ['acme'], Date.now() - 3_600_000, Date.now());
 */
export async function readUsageWindow(client: DynamoDBClient, tableName: string, tenants: readonly string[], fromMs: number, toMs: number): Promise<UsageRecord[]> {
  const months: number[] = [];
  for (let d = new Date(Date.UTC(new Date(fromMs).getUTCFullYear(), new Date(fromMs).getUTCMonth(), 1)); d.getTime() < toMs; d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1))) {
    months.push(d.getTime());
  }
  const out: UsageRecord[] = [];
  for (const tenant of tenants) {
    for (const month of months) out.push(...(await usageRecords(client, tableName, tenant, month)).filter((r) => r.startedAt >= fromMs && r.startedAt < toMs));
  }
  return out.sort((a, b) => a.startedAt - b.startedAt);
}

/**
 * Turns usage records of a window into a measured traffic description. Every record counts towards
 * the rate and the tier shares (shed and failed requests were offered load too); the completion
 * shape is fitted to the requests that ended `ok` (the others were cut short). `slos` gives each
 * tier's SLO by name (the file's or flags' tiers; shares there are ignored).
 *
 * @throws TrafficError when the window holds no request, or a metered tier has no SLO
 * @example
 * measureTraffic(records, from, to, [{ name: 'premium', share: 1, ttftMs: 300, tpotMs: 5 }]);
 */
export function measureTraffic(records: readonly UsageRecord[], fromMs: number, toMs: number, slos: readonly Tier[] = []): MeasuredTraffic {
  if (records.length === 0) throw new TrafficError('usage: no metered request in the window (check --tenant and the window)');
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.tierAsked, (counts.get(r.tierAsked) ?? 0) + 1);
  const known = [...slos, ...DEFAULT_TIERS];
  const tiers = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, n]) => {
    const slo = known.find((t) => t.name === name);
    if (!slo) throw new TrafficError(`usage: tier "${name}" has no SLO: give it in the traffic file's "tiers" or as --tier ${name}:1:TTFT_MS:TPOT_MS`);
    return { name, share: n / records.length, ttftMs: slo.ttftMs, tpotMs: slo.tpotMs };
  });
  // Shares measured as fractions of a count add up to 1 but for rounding: put the rest on the largest.
  const sum = tiers.reduce((s, t) => s + t.share, 0);
  const largest = tiers.reduce((a, b) => (b.share > a.share ? b : a));
  const fixed = tiers.map((t) => (t === largest ? { ...t, share: t.share + (1 - sum) } : t));
  const ok = records.filter((r) => r.outcome === 'ok' && r.completionTokens > 0);
  // One request: its own lengths, no spread.
  const single = (v: number) => ({ median: v, sigma: 0, min: v, max: v });
  const prompts = records.map((r) => Math.max(1, r.promptTokens));
  const completions = (ok.length > 0 ? ok : records).map((r) => Math.max(1, r.completionTokens));
  return {
    ratePerSecond: records.length / ((toMs - fromMs) / 1000),
    prompt: fitTokens(prompts, single(prompts[0]!)),
    completion: fitTokens(completions, single(completions[0]!)),
    tiers: fixed,
    requests: records.length,
  };
}
