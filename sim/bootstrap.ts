/**
 * SGLang PD bootstrap rooms: a prefill server registers a room when its prefill finishes; a
 * decode server polls `GET /sim/bootstrap/{room}` on the prefill server until the room is there.
 */

/** What a prefill server knows about a finished room. */
export interface RoomRecord {
  readonly room: string;
  readonly promptTokens: number;
}

/** Rooms whose KV is ready on this (prefill) server; bounded, oldest evicted first. */
export class BootstrapRooms {
  private readonly rooms = new Map<string, RoomRecord>();

  constructor(private readonly capacity = 10_000) {}

  /** Marks `room` ready. */
  register(room: string, promptTokens: number): void {
    this.rooms.delete(room);
    this.rooms.set(room, { room, promptTokens });
    if (this.rooms.size > this.capacity) {
      const oldest = this.rooms.keys().next();
      if (!oldest.done) this.rooms.delete(oldest.value);
    }
  }

  /** The room's record, if its prefill finished. */
  get(room: string): RoomRecord | undefined {
    return this.rooms.get(room);
  }
}

/** A `bootstrap_room` value as a string key (numbers, bigints in JSON text, or strings). */
export function roomKey(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  return undefined;
}
