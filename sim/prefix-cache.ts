/**
 * An engine's prefix cache, as vLLM's automatic prefix caching and SGLang's radix cache behave
 * for routing purposes: the prompt is cut into blocks of `blockTokens` tokens, each block named by
 * a hash chained over every block before it (so a block matches only after the same whole
 * prefix); a request's cached tokens are those of its longest run of leading blocks found in the
 * cache, and only the rest is prefilled. Blocks are kept up to a token capacity and evicted
 * least-recently-used first. Pure data structure: no clock, no I/O (the live server and the
 * virtual-time bench share it).
 *
 * Simplifications: only prompt blocks are cached (an engine also keeps the blocks of the tokens
 * it generated, so a real next turn can hit a little more); a block is cached when the request
 * is admitted rather than once its prefill ends; at least one token is always prefilled (as vLLM
 * recomputes the last one).
 */
import { hashString } from './prng.ts';

/** Characters per simulated token (the simulator's text model: sim/text.ts). */
export const CHARS_PER_TOKEN = 4;

/** Block ids of a prompt: chained hashes over blocks of `blockTokens` tokens (full blocks only). */
export function blockIds(text: string, blockTokens: number): number[] {
  const size = Math.max(1, blockTokens) * CHARS_PER_TOKEN;
  const ids: number[] = [];
  let previous = 0x811c9dc5;
  for (let at = 0; at + size <= text.length; at += size) {
    previous = hashString(text.slice(at, at + size), previous);
    ids.push(previous);
  }
  return ids;
}

/** Block ids of a prompt given only its length and a stream id (the bench's synthetic prompts). */
export function syntheticBlockIds(stream: string, tokens: number, blockTokens: number): number[] {
  const ids: number[] = [];
  let previous = hashString(stream);
  for (let i = 0; i + blockTokens <= tokens; i += blockTokens) {
    previous = hashString(`${i}`, previous);
    ids.push(previous);
  }
  return ids;
}

/** What a lookup found. */
export interface PrefixHit {
  /** Prompt tokens found in the cache (not prefilled again). */
  readonly cachedTokens: number;
}

/** One engine's LRU prefix cache of `capacityTokens` tokens (0: off). */
export class PrefixCache {
  /** Block id → nothing; Map order is recency (oldest first). */
  private readonly blocks = new Map<number, true>();
  private readonly capacityBlocks: number;
  /** Lookups and tokens, for the hit rate. */
  lookups = 0;
  promptTokens = 0;
  hitTokens = 0;

  constructor(
    readonly capacityTokens: number,
    readonly blockTokens: number,
  ) {
    this.capacityBlocks = Math.floor(Math.max(0, capacityTokens) / Math.max(1, blockTokens));
  }

  /** Blocks held now. */
  get size(): number {
    return this.blocks.size;
  }

  /**
   * Looks a prompt up and caches its blocks: returns the tokens of its leading blocks already
   * held (at most `promptTokens − 1`), then holds all of its blocks as the most recently used.
   */
  admit(ids: readonly number[], promptTokens: number): PrefixHit {
    let leading = 0;
    while (leading < ids.length && this.blocks.has(ids[leading]!)) leading++;
    const cachedTokens = this.capacityBlocks === 0 ? 0 : Math.max(0, Math.min(leading * this.blockTokens, promptTokens - 1));
    this.lookups += 1;
    this.promptTokens += promptTokens;
    this.hitTokens += cachedTokens;
    if (this.capacityBlocks > 0) {
      for (const id of ids.slice(0, this.capacityBlocks)) {
        this.blocks.delete(id);
        this.blocks.set(id, true);
      }
      for (const id of this.blocks.keys()) {
        if (this.blocks.size <= this.capacityBlocks) break;
        this.blocks.delete(id);
      }
    }
    return { cachedTokens };
  }
}
