import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parsePlanArgs, planCommand } from '../../bin/commands/plan.ts';

let dir: string;
let out: string;
let err: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plan-'));
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('splitserve plan CLI', () => {
  it('plans from a traffic file, prints JSON whose validation met the SLO, and writes the split chart', async () => {
    const file = join(dir, 'traffic.json');
    await writeFile(file, JSON.stringify({ ratePerSecond: 5, prompt: { median: 300, sigma: 0.5 }, completion: { median: 120, sigma: 0.5 }, tiers: [{ name: 'standard', share: 1, ttftMs: 800, tpotMs: 40 }] }));
    const chart = join(dir, 'split.svg');
    expect(await planCommand(['--traffic', file, '--duration', '10', '--json', '--chart', chart])).toBe(0);
    const doc = JSON.parse(out) as { recommended: { costPerHourUsd: number; description: string }; validation: { met: boolean; tiers: { tier: string; attainment: number }[] }; sloMet: boolean };
    expect(doc.sloMet).toBe(true);
    expect(doc.validation.tiers[0]!.tier).toBe('standard');
    expect(doc.validation.tiers[0]!.attainment).toBeGreaterThanOrEqual(0.9);
    expect(doc.recommended.costPerHourUsd).toBeGreaterThan(0);
    expect((await readFile(chart, 'utf8')).startsWith('<svg')).toBe(true);
  });

  it('prints a table by default, flags laid over the file', async () => {
    const file = join(dir, 'traffic.json');
    await writeFile(file, JSON.stringify({ ratePerSecond: 500, mix: 'chat' }));
    expect(await planCommand(['--traffic', file, '--rate', '4', '--tier', 'default:1:1000:50', '--duration', '10'])).toBe(0);
    expect(out).toContain('traffic: 4 req/s');
    expect(out).toMatch(/recommended: .+\ncost: \$\d+\.\d\d per hour/);
    expect(out).toMatch(/-> SLO met/);
  });

  it('exits 1 with the field named for a bad traffic file, and 1 when no plan meets the tiers', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ ratePerSecond: 5, mix: 'chat', tiers: [{ name: 'a', share: 0.4, ttftMs: 1, tpotMs: 1 }] }));
    expect(await planCommand(['--traffic', file])).toBe(1);
    expect(err).toMatch(/splitserve plan: traffic: "tiers": tier shares must add up to 1\n  hint: the traffic file format is in docs\/planner.md/);
    expect(await planCommand(['--rate', '5', '--mix', 'rag', '--duration', '10'])).toBe(1);
    expect(out).toContain('NO PLAN meets every tier');
  });

  it('refuses bad command lines with exit code 2', async () => {
    expect(await planCommand(['--rate', '5'])).toBe(2);
    expect(err).toContain('give --traffic FILE, or --rate and --mix');
    expect(await planCommand(['--mix', 'nope', '--rate', '1'])).toBe(2);
    expect(await planCommand(['--price', 'gpu=3', '--rate', '1', '--mix', 'chat'])).toBe(2);
    expect(await planCommand(['--bogus'])).toBe(2);
    expect(parsePlanArgs(['--rate', '3', '--mix', 'chat', '--hardware', 'gpu-aggregated', '--bursty']).shapes).toEqual({ aggregated: ['gpu-aggregated'], prefill: ['gpu-aggregated'], decode: ['gpu-aggregated'] });
    expect(await planCommand(['--help'])).toBe(0);
    expect(out).toContain('usage: npm run plan');
  });
});
