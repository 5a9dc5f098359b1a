/**
 * The prefix-cache affinity comparison of the goodput bench: the multi-turn chat mix, the runner
 * with per-replica prefix caches and the gateway's own policies, and what the CLI prints.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { AFFINITY_LOAD_FRACTIONS, formatAffinity, runAffinityDeployment, runAffinityExperiment } from '../../bench/goodput/affinity.ts';
import { CHAT_SESSIONS, generateChatSessions } from '../../bench/goodput/chat-sessions.ts';
import type { ChatTurn } from '../../bench/goodput/chat-sessions.ts';
import { goodputCommand } from '../../bench/goodput/cli.ts';
import { DEFAULT_PROFILES } from '../../bench/goodput/cluster.ts';
import { syntheticBlockIds } from '../../sim/prefix-cache.ts';
import { firstTokenMs } from '../../sim/model.ts';

describe('multi-turn chat mix', () => {
  const turns = generateChatSessions(CHAT_SESSIONS, 2, 30_000, 7);

  it('is the same for the same seed, sorted by arrival, with ids in that order', () => {
    expect(generateChatSessions(CHAT_SESSIONS, 2, 30_000, 7)).toEqual(turns);
    expect(turns.map((t) => t.id)).toEqual(turns.map((_, i) => i));
    for (let i = 1; i < turns.length; i++) expect(turns[i]!.arrivalMs).toBeGreaterThanOrEqual(turns[i - 1]!.arrivalMs);
  });

  it('repeats each conversation\'s history: a turn\'s prompt holds the previous prompt and answer, its blocks extend the previous blocks', () => {
    const bySession = new Map<number, ChatTurn[]>();
    for (const t of turns) bySession.set(t.session, [...(bySession.get(t.session) ?? []), t]);
    expect(bySession.size).toBeGreaterThan(30);
    expect([...bySession.values()].some((s) => s.length > 2)).toBe(true);
    for (const session of bySession.values()) {
      const ordered = session.sort((a, b) => a.turn - b.turn);
      for (let i = 1; i < ordered.length; i++) {
        const [prev, next] = [ordered[i - 1]!, ordered[i]!];
        expect(next.arrivalMs - prev.arrivalMs).toBeGreaterThanOrEqual(CHAT_SESSIONS.minGapMs);
        expect(next.promptTokens).toBeGreaterThan(prev.promptTokens + prev.completionTokens);
        expect(next.blocks.slice(0, prev.blocks.length)).toEqual(prev.blocks);
      }
    }
  });
});

describe('affinity runner', () => {
  const turn = (id: number, session: number, at: number, prompt: number, completion = 4): ChatTurn => ({
    id, session, turn: 0, arrivalMs: at, promptTokens: prompt, completionTokens: completion, blocks: syntheticBlockIds(`s${session}`, prompt, 16),
  });

  it('keeps a conversation on one replica: its second turn prefills only the uncached suffix', () => {
    const turns = [turn(0, 1, 0, 1000), turn(1, 1, 5_000, 1600)];
    const gpu = DEFAULT_PROFILES.gpu;
    const affinity = runAffinityDeployment({ mode: 'aggregated', replicas: 4, decode: 0, router: 'affinity', cacheTokens: 100_000 }, turns, 1);
    const second = affinity.outcomes.find((o) => o.request.id === 1)!;
    expect(second.ttftMs).toBeCloseTo(firstTokenMs({ profile: gpu, promptTokens: 1600, kind: 'aggregated', cachedTokens: 992 }).totalMs, 9);
    expect(affinity.hitRate).toBeCloseTo(992 / 2600, 9);
    // Without a cache the same turn pays its whole prompt.
    const cold = runAffinityDeployment({ mode: 'aggregated', replicas: 4, decode: 0, router: 'affinity', cacheTokens: 0 }, turns, 1);
    expect(cold.outcomes.find((o) => o.request.id === 1)!.ttftMs).toBeCloseTo(firstTokenMs({ profile: gpu, promptTokens: 1600, kind: 'aggregated' }).totalMs, 9);
  });

  it('on the prefill side of P/D: TTFT is the cached prefill plus the KV transfer of the whole prompt', () => {
    const turns = [turn(0, 3, 0, 2000), turn(1, 3, 5_000, 2400)];
    const run = runAffinityDeployment({ mode: 'disaggregated', replicas: 3, decode: 1, router: 'affinity', cacheTokens: 100_000 }, turns, 1);
    const second = run.outcomes.find((o) => o.request.id === 1)!;
    const expected =
      firstTokenMs({ profile: DEFAULT_PROFILES.prefill, promptTokens: 2400, kind: 'prefill', cachedTokens: 2000 }).totalMs +
      firstTokenMs({ profile: DEFAULT_PROFILES.decode, promptTokens: 2400, kind: 'decode-remote' }).totalMs;
    expect(second.route).toBe('disaggregated');
    expect(second.ttftMs).toBeCloseTo(expected, 9);
  });

  it('affinity raises the cache hit rate and lowers the median TTFT against least-outstanding, in both modes and at every load', () => {
    const result = runAffinityExperiment({ seed: 4, durationS: 20, units: 6 });
    expect(result.cells).toHaveLength(AFFINITY_LOAD_FRACTIONS.length * 2 * 2);
    for (const load of AFFINITY_LOAD_FRACTIONS) {
      for (const mode of ['aggregated', 'disaggregated'] as const) {
        const base = result.cells.find((c) => c.load === load && c.mode === mode && c.router === 'least-outstanding')!;
        const aff = result.cells.find((c) => c.load === load && c.mode === mode && c.router === 'affinity')!;
        expect(aff.turnsPerSecond).toBe(base.turnsPerSecond);
        expect(aff.scores.default.requests).toBe(base.scores.default.requests);
        expect(aff.hitRate).toBeGreaterThan(base.hitRate + 0.2);
        expect(aff.scores.default.ttftP50).toBeLessThan(base.scores.default.ttftP50);
      }
    }
    const lines = formatAffinity(result);
    expect(lines.filter((l) => l.includes('affinity gain at'))).toHaveLength(AFFINITY_LOAD_FRACTIONS.length * 2);
  });
});

describe('goodput CLI prints the affinity gain', () => {
  it('adds the comparison to the output and to the JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'goodput-affinity-'));
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await goodputCommand(['--duration', '2', '--seed', '2', '--mixes', 'chat', '--loads', 'gpu', '--json-out', join(dir, 'r.json')])).toBe(0);
      const printed = out.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toMatch(/affinity gain at 0\.8, aggregated: cache hit [\d.]+% -> [\d.]+%, TTFT p50 [-+]\d+%/);
      expect(printed).toContain('prefill side of P/D');
      const json = JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')) as { affinity: { cells: Array<{ router: string; hitRate: number }> } };
      expect(json.affinity.cells.map((c) => c.router)).toContain('affinity');
      for (const c of json.affinity.cells) expect(c.hitRate).toBeGreaterThanOrEqual(0);
    } finally {
      out.mockRestore();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
