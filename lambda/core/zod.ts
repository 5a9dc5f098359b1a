/**
 * zod for code that runs in Lambda: `zod/mini` (tree-shakable) with only the English messages,
 * instead of classic `zod` (~450 KB with every locale), which keeps each function bundle under its
 * 300 KB budget. Modules import `* as z from 'zod/mini'` and this module once, for the messages.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());
