/**
 * SGLang PD on the simulator. The router sends the same body to prefill and decode at once, with
 * `bootstrap_host`, `bootstrap_port` (default 8998) and `bootstrap_room`. A prefill server
 * registers the room when its prefill finishes; a decode server polls
 * `GET http://{bootstrap_host}:{bootstrap_port}/sim/bootstrap/{room}` until the room is ready
 * (bounded by `bootstrapTimeoutMs`), then pays the KV transfer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { roomKey } from './bootstrap.ts';
import type { SimContext } from './types.ts';

/** SGLang's default bootstrap port. */
export const DEFAULT_BOOTSTRAP_PORT = 8998;

/** Real milliseconds between two polls of the prefill server. */
export const BOOTSTRAP_POLL_MS = 2;

/** Room keys of a body (`bootstrap_room` may be an array for a batch). */
export function bootstrapRooms(body: Record<string, unknown>): string[] {
  const v = body['bootstrap_room'];
  const values = Array.isArray(v) ? v : [v];
  return values.map(roomKey).filter((k): k is string => k !== undefined);
}

/** Prefill side: marks the body's rooms ready. */
export function registerBootstrap(ctx: SimContext, body: Record<string, unknown>, promptTokens: number): void {
  for (const room of bootstrapRooms(body)) ctx.rooms.register(room, promptTokens);
}

/**
 * Decode side: waits until the prefill server named by the body has every room ready. Throws
 * when the fields are malformed or the wait exceeds `ctx.bootstrapTimeoutMs`.
 */
export async function awaitBootstrap(ctx: SimContext, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
  const rooms = bootstrapRooms(body);
  const host = body['bootstrap_host'];
  const port = body['bootstrap_port'] ?? DEFAULT_BOOTSTRAP_PORT;
  if (rooms.length === 0 || typeof host !== 'string' || typeof port !== 'number') {
    throw new Error('bootstrap_room, bootstrap_host and bootstrap_port must be valid');
  }
  const deadline = Date.now() + ctx.bootstrapTimeoutMs;
  for (const room of rooms) {
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/sim/bootstrap/${room}`;
    for (;;) {
      const res = await fetch(url, { signal }).catch(() => undefined);
      if (res) await res.body?.cancel();
      if (res?.status === 200) break;
      if (Date.now() >= deadline) throw new Error(`bootstrap room ${room} not ready after ${ctx.bootstrapTimeoutMs} ms`);
      await sleep(BOOTSTRAP_POLL_MS, undefined, { signal });
    }
  }
}
