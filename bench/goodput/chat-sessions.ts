/**
 * The multi-turn chat mix of the affinity comparison: conversations arrive as a Poisson process;
 * each has its own system prompt and a number of turns, and every turn's prompt repeats the
 * whole conversation so far (system prompt, earlier questions and answers) plus a new question,
 * as a chat client sends it. A turn's KV blocks are named as the simulator's prefix cache names
 * them (chained hashes, sim/prefix-cache.ts), so a turn's blocks extend its previous turn's.
 *
 * ASSUMPTIONS (no source gives conversation shapes): a system prompt of a few hundred tokens
 * (median 600), questions of ~80 tokens, answers as the `chat` mix (median 250 tokens), 1 to 12
 * turns (geometric, mean 5), and 8 s mean (at least 2 s) between a turn's arrival and the next
 * turn's: an open loop, so a slow answer does not delay the next question. Blocks hold only the
 * conversation's own text; conversations share no system prompt.
 */
import { mulberry32 } from '../../sim/prng.ts';
import { syntheticBlockIds } from '../../sim/prefix-cache.ts';
import { drawTokens, MIXES } from './workloads.ts';
import type { SimRequest, TokenDistribution } from './workloads.ts';

/** A turn of a conversation: a request with its conversation and its prompt's blocks. */
export interface ChatTurn extends SimRequest {
  /** The conversation (its routing key, as the gateway derives one per conversation). */
  readonly session: number;
  /** 0 for the opening turn. */
  readonly turn: number;
  /** Prompt block ids (sim/prefix-cache.ts), full blocks only. */
  readonly blocks: readonly number[];
}

/** Shape of the conversations. */
export interface ChatSessionMix {
  readonly system: TokenDistribution;
  readonly question: TokenDistribution;
  readonly answer: TokenDistribution;
  /** Mean number of turns (geometric, at least 1). */
  readonly meanTurns: number;
  readonly maxTurns: number;
  /** Mean and least time between two turns' arrivals, ms. */
  readonly meanGapMs: number;
  readonly minGapMs: number;
  /** Tokens per KV block (vLLM's default 16). */
  readonly blockTokens: number;
}

/** The mix (see the module's ASSUMPTIONS). */
export const CHAT_SESSIONS: ChatSessionMix = {
  system: { median: 600, sigma: 0.5, min: 64, max: 4_096 },
  question: { median: 80, sigma: 0.8, min: 4, max: 2_048 },
  answer: MIXES.chat.completion,
  meanTurns: 5,
  maxTurns: 12,
  meanGapMs: 8_000,
  minGapMs: 2_000,
  blockTokens: 16,
};

/**
 * Conversations starting at `sessionsPerSecond` over `[0, durationMs)`, their turns sorted by
 * arrival (later turns may arrive after `durationMs`). Same arguments, same turns.
 *
 * @example
 * const turns = generateChatSessions(CHAT_SESSIONS, 2, 60_000, 1);
 */
export function generateChatSessions(mix: ChatSessionMix, sessionsPerSecond: number, durationMs: number, seed: number): ChatTurn[] {
  const rnd = mulberry32(seed);
  const meanGap = 1000 / sessionsPerSecond;
  const turns: Array<Omit<ChatTurn, 'id'>> = [];
  let session = 0;
  for (let t = -Math.log(1 - rnd()) * meanGap; t < durationMs; t += -Math.log(1 - rnd()) * meanGap, session++) {
    const count = Math.min(mix.maxTurns, 1 + Math.floor(Math.log(1 - rnd()) / Math.log(1 - 1 / mix.meanTurns)));
    let history = drawTokens(mix.system, rnd);
    let at = t;
    for (let turn = 0; turn < count; turn++) {
      const promptTokens = history + drawTokens(mix.question, rnd);
      const completionTokens = drawTokens(mix.answer, rnd);
      turns.push({ session, turn, arrivalMs: at, promptTokens, completionTokens, blocks: syntheticBlockIds(`session-${seed}-${session}`, promptTokens, mix.blockTokens) });
      history = promptTokens + completionTokens;
      at += mix.minGapMs + -Math.log(1 - rnd()) * (mix.meanGapMs - mix.minGapMs);
    }
  }
  return turns.sort((a, b) => a.arrivalMs - b.arrivalMs).map((r, id) => ({ ...r, id }));
}
