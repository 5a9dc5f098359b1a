import { describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import type { RequestResult } from '../../bench/soak/client.ts';
import { buildLedger, expectedRecord, formatLedger } from '../../bench/soak/ledger.ts';
import type { SentRequest } from '../../bench/soak/ledger.ts';

const ID = (n: number): string => `req_${n.toString(16).padStart(32, '0')}`;

function record(n: number, tenantId: string, outcome: UsageRecord['outcome'], promptTokens: number, completionTokens: number): UsageRecord {
  return {
    requestId: ID(n), tenantId, tierAsked: 'default', tierServed: 'default', route: 'aggregated', pools: ['gpu'], model: 'llama-3.1-8b',
    promptTokens, completionTokens, ttftMs: null, tpotMs: null, sloMet: null, costUnits: promptTokens + completionTokens, totalMs: 10, outcome, startedAt: 1,
  };
}

function sent(label: string, tenant: string, stream: boolean, result: Omit<RequestResult, 'ms' | 'contentChunks'> & { contentChunks?: number }): SentRequest {
  return { label, tenant, phase: 'load', stream, result: { contentChunks: 0, ms: 5, ...result } };
}

/** A run of five requests of one tenant: served, streamed then aborted, shed, refused (401), failed upstream (503). */
function run(): { requests: SentRequest[]; records: UsageRecord[] } {
  return {
    requests: [
      sent('#0', 'acme', false, { outcome: 'succeeded', completionId: `chatcmpl-${ID(0)}`, promptTokens: 20, completionTokens: 8 }),
      sent('#1', 'acme', true, { outcome: 'aborted', completionId: `chatcmpl-${ID(1)}`, contentChunks: 2 }),
      sent('#2', 'acme', true, { outcome: 'openai-error', status: 429, code: 'resource_unavailable' }),
      sent('#3', 'acme', false, { outcome: 'openai-error', status: 401, code: 'invalid_api_key' }),
      sent('#4', 'acme', false, { outcome: 'openai-error', status: 503, code: 'upstream_error' }),
    ],
    records: [record(0, 'acme', 'ok', 20, 8), record(1, 'acme', 'aborted', 20, 3), record(2, 'acme', 'shed', 0, 0), record(4, 'acme', 'error', 0, 0)],
  };
}

describe('soak ledger', () => {
  it('expects one record per request that reached admission, none for refusals before it', () => {
    const r = (x: Partial<RequestResult>): RequestResult => ({ outcome: 'openai-error', contentChunks: 0, ms: 1, ...x });
    expect(expectedRecord(r({ outcome: 'succeeded' }))).toBe('ok');
    expect(expectedRecord(r({ outcome: 'aborted' }))).toBe('aborted');
    expect(expectedRecord(r({ status: 200, code: 'upstream_timeout' }))).toBe('error');
    expect(expectedRecord(r({ status: 504, code: 'upstream_timeout' }))).toBe('error');
    expect(expectedRecord(r({ status: 429, code: 'resource_unavailable' }))).toBe('shed');
    expect(expectedRecord(r({ status: 429, code: 'rate_limit_exceeded' }))).toBe('none');
    expect(expectedRecord(r({ status: 429, code: 'insufficient_quota' }))).toBe('none');
    expect(expectedRecord(r({ status: 403, code: 'permission_denied' }))).toBe('none');
    expect(expectedRecord(r({ outcome: 'other-failure' }))).toBe('unknown');
    expect(expectedRecord(r({ status: 503, code: 'service_unavailable' }))).toBe('unknown');
    expect(expectedRecord(r({ status: 503, code: 'server_shutting_down' }))).toBe('error');
  });

  it('balances when every admitted request has its record and served tokens are metered', () => {
    const { requests, records } = run();
    const ledger = buildLedger(requests, records, [{ name: 'revoked key stays revoked', pass: true, detail: '' }]);
    expect(ledger.problems).toEqual([]);
    expect(ledger.balanced).toBe(true);
    expect(ledger).toMatchObject({ sent: 5, succeeded: 1, openaiErrorTotal: 3, aborted: 1, otherFailures: 0 });
    expect(ledger.openaiErrors).toEqual({ '429 resource_unavailable': 1, '401 invalid_api_key': 1, '503 upstream_error': 1 });
    expect(ledger.records).toEqual({ ok: 1, aborted: 1, error: 1, shed: 1, interrupted: 0 });
    expect(ledger.tokens).toMatchObject({ clientPrompt: 20, clientCompletion: 8, meteredPrompt: 20, meteredCompletion: 8, partialChunksReceived: 2, partialMeteredCompletion: 3 });
    expect(formatLedger(ledger)).toContain('ledger: BALANCED');
  });

  it('does not balance on a lost record, a token mismatch, an under-metered abort, a failure of the other kind or a failed check', () => {
    const lost = run();
    lost.records.splice(3, 1); // the 503's record
    expect(buildLedger(lost.requests, lost.records, []).problems).toEqual(['acme: records ok 1, aborted 1, error 0, shed 1, interrupted 0 where the clients saw ok 1, aborted 1, error 1, shed 1, interrupted 0']);

    const tokens = run();
    tokens.records[0] = record(0, 'acme', 'ok', 20, 9);
    expect(buildLedger(tokens.requests, tokens.records, []).balanced).toBe(false);

    const under = run();
    under.records[1] = record(1, 'acme', 'aborted', 20, 1);
    expect(buildLedger(under.requests, under.records, []).problems).toEqual(['#1: its client received 2 content chunks, 1 completion tokens metered (aborted)']);

    const other = run();
    other.requests.push(sent('#5', 'acme', true, { outcome: 'other-failure', detail: 'stream ended without [DONE]' }));
    const ledger = buildLedger(other.requests, other.records, []);
    expect(ledger.otherFailures).toBe(1);
    expect(ledger.otherFailureSamples).toEqual(['#5 (acme, stream, 5 ms): stream ended without [DONE]']);
    expect(ledger.balanced).toBe(false);

    const check = run();
    expect(buildLedger(check.requests, check.records, [{ name: 'the gateway stops on SIGTERM (end)', pass: false, detail: 'killed' }]).problems).toEqual(['check: the gateway stops on SIGTERM (end): killed']);
  });

  it('takes a client abort the gateway had already finished as served, compared as a partial stream', () => {
    const { requests, records } = run();
    records[1] = record(1, 'acme', 'ok', 20, 12);
    const ledger = buildLedger(requests, records, []);
    expect(ledger.balanced).toBe(true);
    expect(ledger.abortsAfterFinish).toBe(1);
    expect(ledger.tokens).toMatchObject({ meteredCompletion: 8, partialMeteredCompletion: 12 });
  });
});
