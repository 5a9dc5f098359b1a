import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { layFlags, parsePlanArgs, planCommand } from '../../bin/commands/plan.ts';

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

  it('does not call a replay with too few requests met: exit 1, the tiers named, no NaN', async () => {
    expect(await planCommand(['--rate', '0.001', '--mix', 'chat'])).toBe(1);
    expect(out).toMatch(/not enough requests to validate tiers priority, default in the validation replay \(priority \d+, default \d+ in its/);
    expect(out).toContain('-> NOT VALIDATED');
    expect(out).toContain('headroom: not measured');
    expect(out).not.toContain('SLO met');
    expect(out).not.toMatch(/NaN/);
    expect(out).not.toMatch(/  met$/m);
  });

  it('--mix replaces the traffic file\'s prompt and completion lengths', async () => {
    const file = join(dir, 'traffic.json');
    await writeFile(file, JSON.stringify({ ratePerSecond: 5, prompt: { median: 300 }, completion: { median: 100 }, tiers: [{ name: 'premium', share: 1, ttftMs: 100, tpotMs: 5 }] }));
    await planCommand(['--traffic', file, '--mix', 'rag', '--json']);
    const doc = JSON.parse(out) as { traffic: { prompt: { median: number }; completion: { median: number }; mixName?: string } };
    expect(doc.traffic.prompt.median).toBe(3_000);
    expect(doc.traffic.completion.median).toBe(150);
    expect(doc.traffic.mixName).toBe('rag');
    expect(layFlags({ ratePerSecond: 5, prompt: { median: 1 }, completion: { median: 2 } }, { rate: 1 })).toEqual({ ratePerSecond: 5, prompt: { median: 1 }, completion: { median: 2 }, rate: 1 });
  });

  it('says why no plan: the per-pool cap (and --max-per-pool lifts it), a prefill-only profile alone', async () => {
    const args = ['--rate', '200', '--mix', 'chat', '--tier', 'default:1:1000:50', '--hardware', 'trainium-prefill,cerebras-decode', '--duration', '10'];
    expect(await planCommand([...args, '--max-per-pool', '1'])).toBe(1);
    expect(out).toContain('NO PLAN');
    expect(out).toContain('the cap of 1 replicas per pool stopped the search');
    expect(out).toMatch(/left out pd:trainium-prefill>cerebras-decode: needs at least \d+ prefill and \d+ decode replicas \(more than the cap of 1 per pool\)/);
    out = '';
    expect(await planCommand([...args, '--max-per-pool', '8'])).toBe(0);
    expect(out).toMatch(/recommended: \d+ trainium-prefill : \d+ cerebras-decode/);
    out = '';
    expect(await planCommand(['--rate', '3', '--mix', 'chat', '--hardware', 'trainium-prefill'])).toBe(1);
    expect(out).toContain('left out pd:trainium-prefill>(none): trainium-prefill only runs prefill: a prefill pool needs a decode profile too');
    expect(await planCommand(['--rate', '3', '--mix', 'chat', '--max-per-pool', '0'])).toBe(2);
    expect(err).toContain('--max-per-pool: bad value "0"');
  });

  it('shows both kinds of a bimodal mix on the traffic line', async () => {
    expect(await planCommand(['--rate', '3', '--mix', 'mixed', '--hardware', 'trainium-prefill'])).toBe(1);
    expect(out).toContain('traffic: 3 req/s, 75.0% prompt median 120 (sigma 0.6), completion median 200 (sigma 0.6) + 25.0% prompt median 8000 (sigma 0.4), completion median 200 (sigma 0.6) [mix mixed]');
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
