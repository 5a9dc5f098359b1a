/**
 * zod for code that runs in Lambda: `zod/mini` (tree-shakable) with only the English messages,
 * instead of classic `zod` (~450 KB with every locale), which keeps each function bundle under its
 * 300 KB budget. Modules import `* as z from 'zod/mini'` and this module once, for the messages.
 */
import * as z from 'zod/mini';
import * as core from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

z.config(en());

/**
 * `zod/mini`'s object type on zod core's compiling object parser (`$ZodObjectJIT`, what classic
 * `z.object` uses): the shape's checks run as one generated function instead of a walk over the
 * shape. Same issues and messages as `z.looseObject` (test/core/zod.test.ts); ~35% less CPU per
 * request body (2.1 → 1.4 µs for the bench's chat body, parsed 200,000 times in a loop). Where
 * `new Function` is not allowed, zod core detects it and falls back to the walk.
 */
type Init = (inst: unknown, def: unknown) => void;
const ZodMiniObjectJIT = core.$constructor('ZodMiniObjectJIT', (inst: z.ZodMiniObject, def: core.$ZodObjectDef) => {
  // The compiling parser first; zod/mini's object type then adds its own traits (lazy `shape`,
  // `instanceof z.ZodMiniObject`) and skips the `$ZodObject` init already done.
  (core.$ZodObjectJIT.init as Init)(inst, def);
  (z.ZodMiniObject.init as Init)(inst, def);
});

/** Like `z.looseObject(shape)` (unknown keys kept), parsed by compiled code. */
export function compiledLooseObject<const T extends core.$ZodLooseShape>(shape: T): z.ZodMiniObject<T, core.$loose> {
  return new ZodMiniObjectJIT({ type: 'object', shape, catchall: z.unknown() }) as unknown as z.ZodMiniObject<T, core.$loose>;
}
