/**
 * The soak's ledger: what the clients saw against what the gateway metered. Pure functions, no I/O.
 *
 * Client side, every request sent ends one way: succeeded, failed with an OpenAI-shaped error (by
 * status and code), aborted by its client on purpose, or failed otherwise (a hang, a socket error
 * without an error event, a malformed answer: must be 0). Meter side, the usage records the
 * gateway wrote, by outcome. A request reaches admission, and must then have exactly one record,
 * when it was served (`ok`), aborted by its client mid-stream (`aborted`, or `ok` when the gateway
 * had already finished it), shed by overload control (a 429 `resource_unavailable`: `shed`), or
 * failed after admission (a 5xx, an error event in a stream, or a 503 `server_shutting_down` at a
 * restart's drain deadline: `error`; the soak sends nothing while a gateway drains, so no new
 * request meets that refusal). Refusals before admission (401, 403, 400, 404, a 429
 * `rate_limit_exceeded` or `insufficient_quota`) have none. An `interrupted` record (a process
 * died with the request) is never expected: the soak stops its gateways gracefully.
 *
 * Tokens: a served request's metered prompt and completion tokens equal the usage its client was
 * given; an aborted or failed stream is metered at least the content chunks its client received.
 */
import type { UsageRecord } from '../../lambda/core/ports.ts';
import { CLIENT_OUTCOMES } from './client.ts';
import type { RequestResult } from './client.ts';

/** One request the soak sent, with what became of it. */
export interface SentRequest {
  readonly label: string;
  readonly tenant: string;
  /** `load` (the open loop) or `check` (the final admin checks). */
  readonly phase: 'load' | 'check';
  readonly stream: boolean;
  readonly result: RequestResult;
}

/** Record outcomes (lambda/core/ports.ts UsageRecord). */
export const RECORD_OUTCOMES = ['ok', 'aborted', 'error', 'shed', 'interrupted'] as const;
/** A usage record's outcome. */
export type RecordOutcome = (typeof RECORD_OUTCOMES)[number];

/** Counts per record outcome. */
export type OutcomeCounts = Record<RecordOutcome, number>;

/** Codes of refusals made before admission: no usage record. */
const REFUSED_BEFORE_ADMISSION = new Set(['invalid_api_key', 'permission_denied', 'rate_limit_exceeded', 'insufficient_quota', 'model_not_found']);

/**
 * The record outcome a request must have left, from its client's view; `none` when it was refused
 * before admission, `unknown` for a failure of the other kind (its fate cannot be told).
 *
 * @example
 * expectedRecord({ outcome: 'openai-error', status: 429, code: 'resource_unavailable', contentChunks: 0, ms: 3 }); // 'shed'
 */
export function expectedRecord(r: RequestResult): RecordOutcome | 'none' | 'unknown' {
  switch (r.outcome) {
    case CLIENT_OUTCOMES.succeeded:
      return 'ok';
    case CLIENT_OUTCOMES.aborted:
      return 'aborted';
    case CLIENT_OUTCOMES.otherFailure:
      return 'unknown';
    default:
      break;
  }
  const status = r.status ?? 0;
  // A store in trouble (key lookup or admission) answers 503 `service_unavailable` before or after admission: either.
  if (r.code === 'service_unavailable') return 'unknown';
  if (status === 200 || status >= 500) return 'error';
  if (status === 429 && r.code === 'resource_unavailable') return 'shed';
  if (status >= 400 && status < 500 && (REFUSED_BEFORE_ADMISSION.has(r.code ?? '') || status !== 429)) return 'none';
  return 'unknown';
}

/** Token totals, client view against meter view. */
export interface TokenLedger {
  /** Served requests: usage given to the clients. */
  readonly clientPrompt: number;
  readonly clientCompletion: number;
  /** Their records. */
  readonly meteredPrompt: number;
  readonly meteredCompletion: number;
  /** Aborted or failed streams: content chunks their clients received, and completion tokens metered for them (matched by completion id). */
  readonly partialChunksReceived: number;
  readonly partialMeteredCompletion: number;
  /** Partial streams whose record could not be found by id (their tokens are not compared). */
  readonly partialUnmatched: number;
}

/** A tenant's ledger. */
export interface TenantLedger {
  readonly sent: number;
  readonly succeeded: number;
  readonly openaiErrors: number;
  readonly aborted: number;
  readonly otherFailures: number;
  /** Records the clients' view calls for, by outcome. */
  readonly expectedRecords: OutcomeCounts;
  /** Records the gateway wrote, by outcome. */
  readonly records: OutcomeCounts;
  readonly tokens: TokenLedger;
  readonly balanced: boolean;
}

/** A check of the run: an admin change that held (or not) at the end, a gateway that stopped when told. */
export interface AdminCheck {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/** The whole ledger. */
export interface Ledger {
  readonly sent: number;
  readonly succeeded: number;
  /** OpenAI-shaped errors by `<status> <code>` (status 200: an error event in a stream). */
  readonly openaiErrors: Readonly<Record<string, number>>;
  readonly openaiErrorTotal: number;
  readonly aborted: number;
  /** Must be 0. */
  readonly otherFailures: number;
  /** Up to 20 of them, described. */
  readonly otherFailureSamples: readonly string[];
  /** Records by outcome, and what the clients' view calls for. */
  readonly records: OutcomeCounts;
  readonly expectedRecords: OutcomeCounts;
  /** Client aborts of streams the gateway had already finished (metered `ok`, compared as partial streams). */
  readonly abortsAfterFinish: number;
  /** Records whose tenant or request the soak does not know (must be 0). */
  readonly strayRecords: number;
  /**
   * Records no request was matched to by completion id (errors answered before any chunk carry
   * none, so some are expected), by outcome; and up to 20 of the `ok` and `aborted` ones, which
   * every served or streamed request should have claimed.
   */
  readonly unmatchedRecords: OutcomeCounts;
  readonly unmatchedSamples: readonly string[];
  readonly tokens: TokenLedger;
  readonly tenants: Readonly<Record<string, TenantLedger>>;
  readonly admin: readonly AdminCheck[];
  /** Every way the ledger does not balance, in words; empty when it balances. */
  readonly problems: readonly string[];
  readonly balanced: boolean;
}

function zero(): OutcomeCounts {
  return { ok: 0, aborted: 0, error: 0, shed: 0, interrupted: 0 };
}

/** The internal request id a completion id carries (`chatcmpl-<id>` from the engines), if any. */
function requestIdOf(completionId: string | undefined): string | undefined {
  return completionId?.match(/req_[0-9a-f]{32}/)?.[0];
}

/**
 * Builds the ledger from the requests sent, the usage records read back from the store (those
 * of the run only), and the checks (admin changes, gateway stops); a failed check unbalances it.
 *
 * @example
 * const ledger = buildLedger(sent, records, checks);
 * if (!ledger.balanced) console.log(ledger.problems.join('\n'));
 */
export function buildLedger(sent: readonly SentRequest[], records: readonly UsageRecord[], admin: readonly AdminCheck[]): Ledger {
  const byId = new Map(records.map((r) => [r.requestId, r]));
  const matched = new Set<string>();
  const problems: string[] = [];
  const openaiErrors: Record<string, number> = {};
  const otherFailureSamples: string[] = [];
  const tenants = new Map<string, { sent: number; succeeded: number; openaiErrors: number; aborted: number; otherFailures: number; expected: OutcomeCounts; records: OutcomeCounts; tokens: Mutable<TokenLedger> }>();
  const tenantOf = (id: string) => {
    let t = tenants.get(id);
    if (!t) {
      t = { sent: 0, succeeded: 0, openaiErrors: 0, aborted: 0, otherFailures: 0, expected: zero(), records: zero(), tokens: zeroTokens() };
      tenants.set(id, t);
    }
    return t;
  };
  let perRequestMismatches = 0;
  /** Records of streams their client aborted after the gateway had finished them (`ok`): compared as partial streams. */
  const finishedBeforeAbort = new Set<string>();
  for (const req of sent) {
    const t = tenantOf(req.tenant);
    const r = req.result;
    t.sent += 1;
    const record = byId.get(requestIdOf(r.completionId) ?? '');
    if (record) matched.add(record.requestId);
    switch (r.outcome) {
      case CLIENT_OUTCOMES.succeeded:
        t.succeeded += 1;
        t.tokens.clientPrompt += r.promptTokens ?? 0;
        t.tokens.clientCompletion += r.completionTokens ?? 0;
        if (record && (record.outcome !== 'ok' || record.promptTokens !== r.promptTokens || record.completionTokens !== r.completionTokens)) {
          perRequestMismatches += 1;
          if (perRequestMismatches <= 10) problems.push(`${req.label}: served ${r.promptTokens}+${r.completionTokens} tokens, metered ${record.outcome} ${record.promptTokens}+${record.completionTokens}`);
        }
        break;
      case CLIENT_OUTCOMES.openaiError: {
        t.openaiErrors += 1;
        const key = `${r.status ?? '?'} ${r.code ?? 'none'}`;
        openaiErrors[key] = (openaiErrors[key] ?? 0) + 1;
        break;
      }
      case CLIENT_OUTCOMES.aborted:
        t.aborted += 1;
        break;
      default:
        t.otherFailures += 1;
        if (otherFailureSamples.length < 20) otherFailureSamples.push(`${req.label} (${req.tenant}, ${req.stream ? 'stream' : 'json'}, ${r.ms} ms): ${r.detail ?? 'no detail'}`);
    }
    let expected = expectedRecord(r);
    // A client abort that reached a gateway which had already finished the stream is metered `ok`.
    if (expected === 'aborted' && record?.outcome === 'ok') {
      expected = 'ok';
      finishedBeforeAbort.add(record.requestId);
    }
    if (expected !== 'none' && expected !== 'unknown') t.expected[expected] += 1;
    if (record && expected !== 'none' && expected !== 'unknown' && record.outcome !== expected) {
      perRequestMismatches += 1;
      if (perRequestMismatches <= 10) {
        problems.push(`${req.label} (${req.tenant}, ${record.requestId}, ${record.route}, ${record.tierAsked}→${record.tierServed}): its client saw ${r.outcome} after ${r.contentChunks} content chunks and ${r.ms} ms, metered ${record.outcome} (${record.completionTokens} completion tokens, ${record.totalMs} ms)`);
      }
    }
    const partial = req.stream && (r.outcome === CLIENT_OUTCOMES.aborted || (r.outcome === CLIENT_OUTCOMES.openaiError && r.status === 200));
    if (partial) {
      if (!record) t.tokens.partialUnmatched += 1;
      else {
        t.tokens.partialChunksReceived += r.contentChunks;
        t.tokens.partialMeteredCompletion += record.completionTokens;
        if (record.completionTokens < r.contentChunks) {
          perRequestMismatches += 1;
          if (perRequestMismatches <= 10) problems.push(`${req.label}: its client received ${r.contentChunks} content chunks, ${record.completionTokens} completion tokens metered (${record.outcome})`);
        }
      }
    }
  }
  let strayRecords = 0;
  const unmatchedRecords = zero();
  const unmatchedSamples: string[] = [];
  for (const rec of records) {
    if (!matched.has(rec.requestId)) {
      unmatchedRecords[rec.outcome] += 1;
      if ((rec.outcome === 'ok' || rec.outcome === 'aborted') && unmatchedSamples.length < 20) {
        unmatchedSamples.push(`${rec.requestId} (${rec.tenantId}, ${rec.tierAsked}→${rec.tierServed}, ${rec.route}): ${rec.outcome} ${rec.promptTokens}+${rec.completionTokens}, ${rec.totalMs} ms`);
      }
    }
    const t = tenants.get(rec.tenantId);
    if (!t) {
      strayRecords += 1;
      continue;
    }
    t.records[rec.outcome] += 1;
    if (rec.outcome === 'ok' && !finishedBeforeAbort.has(rec.requestId)) {
      t.tokens.meteredPrompt += rec.promptTokens;
      t.tokens.meteredCompletion += rec.completionTokens;
    }
  }
  if (perRequestMismatches > 10) problems.push(`… ${perRequestMismatches - 10} more requests metered otherwise than served`);
  if (strayRecords > 0) problems.push(`${strayRecords} usage records of tenants the soak did not use`);

  const tenantLedgers: Record<string, TenantLedger> = {};
  for (const [id, t] of [...tenants].sort(([a], [b]) => a.localeCompare(b))) {
    const tokens = t.tokens;
    const countsMatch = RECORD_OUTCOMES.every((o) => t.expected[o] === t.records[o]);
    const tokensMatch = tokens.clientPrompt === tokens.meteredPrompt && tokens.clientCompletion === tokens.meteredCompletion;
    if (!countsMatch) problems.push(`${id}: records ${fmt(t.records)} where the clients saw ${fmt(t.expected)}`);
    if (!tokensMatch) problems.push(`${id}: served ${tokens.clientPrompt}+${tokens.clientCompletion} tokens, metered ${tokens.meteredPrompt}+${tokens.meteredCompletion} for ok records`);
    if (t.otherFailures > 0) problems.push(`${id}: ${t.otherFailures} requests failed without an OpenAI error`);
    tenantLedgers[id] = {
      sent: t.sent,
      succeeded: t.succeeded,
      openaiErrors: t.openaiErrors,
      aborted: t.aborted,
      otherFailures: t.otherFailures,
      expectedRecords: t.expected,
      records: t.records,
      tokens,
      balanced: countsMatch && tokensMatch && t.otherFailures === 0,
    };
  }
  for (const check of admin) if (!check.pass) problems.push(`check: ${check.name}: ${check.detail}`);
  const sum = <K extends keyof TenantLedger>(k: K): number => Object.values(tenantLedgers).reduce((n, t) => n + (t[k] as number), 0);
  const sumCounts = (k: 'records' | 'expectedRecords'): OutcomeCounts => {
    const out = zero();
    for (const t of Object.values(tenantLedgers)) for (const o of RECORD_OUTCOMES) out[o] += t[k][o];
    return out;
  };
  const tokens = zeroTokens();
  for (const t of Object.values(tenantLedgers)) for (const k of Object.keys(tokens) as Array<keyof TokenLedger>) tokens[k] += t.tokens[k];
  const ledger = {
    sent: sent.length,
    succeeded: sum('succeeded'),
    openaiErrors,
    openaiErrorTotal: sum('openaiErrors'),
    aborted: sum('aborted'),
    otherFailures: sum('otherFailures'),
    otherFailureSamples,
    records: sumCounts('records'),
    expectedRecords: sumCounts('expectedRecords'),
    abortsAfterFinish: finishedBeforeAbort.size,
    strayRecords,
    unmatchedRecords,
    unmatchedSamples,
    tokens,
    tenants: tenantLedgers,
    admin,
  };
  if (ledger.succeeded + ledger.openaiErrorTotal + ledger.aborted + ledger.otherFailures !== ledger.sent) problems.push('sent ≠ succeeded + errors + aborted + other failures');
  return { ...ledger, problems, balanced: problems.length === 0 };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function zeroTokens(): Mutable<TokenLedger> {
  return { clientPrompt: 0, clientCompletion: 0, meteredPrompt: 0, meteredCompletion: 0, partialChunksReceived: 0, partialMeteredCompletion: 0, partialUnmatched: 0 };
}

function fmt(c: OutcomeCounts): string {
  return RECORD_OUTCOMES.map((o) => `${o} ${c[o]}`).join(', ');
}

/**
 * The ledger as text for the terminal.
 *
 * @example
 * process.stdout.write(formatLedger(ledger));
 */
export function formatLedger(l: Ledger): string {
  const lines = [
    `sent ${l.sent} = succeeded ${l.succeeded} + OpenAI errors ${l.openaiErrorTotal} + client-aborted ${l.aborted} + failed otherwise ${l.otherFailures}`,
    `  OpenAI errors by status and code: ${Object.entries(l.openaiErrors).sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`,
    ...l.otherFailureSamples.map((s) => `  failed otherwise: ${s}`),
    `usage records: ${fmt(l.records)} (the clients' view: ${fmt(l.expectedRecords)}); stray ${l.strayRecords}`,
    ...l.unmatchedSamples.map((u) => `  record no request claimed: ${u}`),
    `tokens served ${l.tokens.clientPrompt}+${l.tokens.clientCompletion}, metered ${l.tokens.meteredPrompt}+${l.tokens.meteredCompletion} (prompt+completion, ok records)`,
    `partial streams (aborted, or ended by an error event): ${l.tokens.partialChunksReceived} content chunks received, ${l.tokens.partialMeteredCompletion} completion tokens metered (${l.abortsAfterFinish} aborted after the gateway had finished them; ${l.tokens.partialUnmatched} without a record found by id)`,
    'per tenant:',
    ...Object.entries(l.tenants).map(([id, t]) => `  ${id.padEnd(8)} sent ${t.sent}, ok ${t.succeeded}, errors ${t.openaiErrors}, aborted ${t.aborted}, other ${t.otherFailures}; records ${fmt(t.records)}; tokens ${t.tokens.clientPrompt}+${t.tokens.clientCompletion} / metered ${t.tokens.meteredPrompt}+${t.tokens.meteredCompletion}: ${t.balanced ? 'balanced' : 'NOT balanced'}`),
    'checks (admin changes held, the gateway stopped when told):',
    ...l.admin.map((c) => `  ${c.pass ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`),
    l.balanced ? 'ledger: BALANCED' : `ledger: NOT BALANCED\n${l.problems.map((p) => `  - ${p}`).join('\n')}`,
    '',
  ];
  return lines.join('\n');
}
