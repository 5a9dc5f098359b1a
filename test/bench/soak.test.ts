import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSoakArgs, SoakUsageError, writeSoakReport } from '../../bench/soak/cli.ts';
import { runSoak } from '../../bench/soak/run.ts';
import type { SoakReport } from '../../bench/soak/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'soak-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('soak command line', () => {
  it('defaults to 5 minutes at 20 req/s on the stack runtime with a restart', () => {
    expect(parseSoakArgs([]).options).toEqual({ seconds: 300, rate: 20, seed: 1, runtime: 'stack', restart: true, sampleMs: 2000, deadlineMs: 30_000 });
    expect(parseSoakArgs(['--minutes', '10', '--runtime', 'node', '--no-restart']).options).toMatchObject({ seconds: 600, runtime: 'node', restart: false });
  });

  it('refuses what is not bounded or not known', () => {
    expect(() => parseSoakArgs(['--minutes', '0'])).toThrow(SoakUsageError);
    expect(() => parseSoakArgs(['--minutes', '2000'])).toThrow(/up to 1440/);
    expect(() => parseSoakArgs(['--rate', 'x'])).toThrow(/--rate/);
    expect(() => parseSoakArgs(['--minutes', '1', '--seconds', '5'])).toThrow(/not both/);
    expect(() => parseSoakArgs(['--runtime', 'lambda'])).toThrow(/--runtime/);
    expect(() => parseSoakArgs(['--json-out', ''])).toThrow(/path/);
  });
});

describe('a short soak (node runtime, with a restart)', () => {
  it('sends, fails, aborts and changes tenants under faults, and its ledger balances', { timeout: 60_000 }, async () => {
    const report: SoakReport = await runSoak({ seconds: 5, rate: 12, seed: 3, runtime: 'node', restart: true, sampleMs: 500, deadlineMs: 20_000 }, () => undefined);
    const l = report.ledger;
    expect(l.problems).toEqual([]);
    expect(l.balanced).toBe(true);
    expect(l.otherFailures).toBe(0);
    expect(l.sent).toBe(l.succeeded + l.openaiErrorTotal + l.aborted + l.otherFailures);
    // The arrivals were sent, bar those due while the gateway restarted, plus the end checks.
    const checks = 4;
    expect(l.sent + report.notSent.restarting + report.notSent.inFlightCap).toBe(5 * 12 + checks);
    expect(l.succeeded).toBeGreaterThan(0);
    // Every request that reached admission left exactly one record, and served tokens were metered.
    expect(l.records).toEqual(l.expectedRecords);
    expect(l.records.ok).toBe(l.succeeded + l.abortsAfterFinish);
    expect(l.tokens.meteredCompletion).toBe(l.tokens.clientCompletion);
    expect(l.tokens.meteredPrompt).toBe(l.tokens.clientPrompt);
    expect(l.tokens.clientCompletion).toBeGreaterThan(0);
    // Each admin change held after the restart, and both stops were clean.
    expect(l.admin.map((c) => [c.name, c.pass])).toEqual([
      ['revoked key stays revoked', true],
      ['created key stays live', true],
      ['disabled tenant stays disabled', true],
      ['lowered limit stays lowered', true],
      ['an untouched key is served', true],
      ['the gateway stops on SIGTERM (restart)', true],
      ['the gateway stops on SIGTERM (end)', true],
    ]);
    expect(l.openaiErrors['401 invalid_api_key']).toBeGreaterThanOrEqual(1);
    expect(l.openaiErrors['403 permission_denied']).toBeGreaterThanOrEqual(1);
    expect(report.timeline.map((e) => e.event)).toContain('restart: the gateway is back');
    // Two gateway processes were sampled.
    expect(new Set(report.samples.map((s) => s.pid)).size).toBe(2);
    expect(report.samples.every((s) => s.rssMb > 0 && s.openFds > 0)).toBe(true);

    const files = writeSoakReport(report, join(dir, 'soak.json'));
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as SoakReport;
    expect(json.ledger.sent).toBe(l.sent);
    const svg = readFileSync(files.svg, 'utf8');
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    // No key in the report.
    expect(readFileSync(files.json, 'utf8')).not.toMatch(/sk-ss-/);
  });
});
