/**
 * Shared setup for the store tests: a real embedded DynamoDB with fresh tables, and a call
 * counter installed as client middleware (no mocks).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { createTables, tableDefinitions, type TableNames } from '../../lambda/store/tables.ts';

let counter = 0;

/** Fresh, uniquely named tables in a store. */
export async function freshTables(store: EmbeddedDynamo): Promise<TableNames> {
  counter += 1;
  const names = { config: `cfg-${process.pid}-${counter}`, usage: `usage-${process.pid}-${counter}` };
  await createTables(store.client, tableDefinitions(names));
  return names;
}

/** Counts DynamoDB calls by operation name (through the client's middleware stack). */
export function countCalls(client: DynamoDBClient): { total(): number; byOp: Map<string, number>; reset(): void } {
  const byOp = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? 'unknown');
      byOp.set(op, (byOp.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: `count-calls-${Math.random()}` },
  );
  return {
    byOp,
    total: () => [...byOp.values()].reduce((a, b) => a + b, 0),
    reset: () => byOp.clear(),
  };
}

/** A manual clock. */
export function manualClock(start = Date.UTC(2025, 5, 15, 12, 0, 10)): { now: () => number; advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** A seeded PRNG in [0, 1): the simulator's mulberry32. */
export { mulberry32 as seededRandom } from '../../sim/prng.ts';

/** Fails every call while `on` is true (a scripted fault, installed as client middleware). */
export function faultSwitch(client: DynamoDBClient): { on: boolean } {
  const state = { on: false };
  client.middlewareStack.add(
    (next) => async (args) => {
      if (state.on) throw Object.assign(new Error('injected fault'), { name: 'InjectedFault' });
      return next(args);
    },
    { step: 'initialize', name: `fault-switch-${Math.random()}` },
  );
  return state;
}
