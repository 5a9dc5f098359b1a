/**
 * A bound on the nesting depth of a JSON text, checked on the raw text before anything recursive
 * (zod, token estimates, `JSON.stringify` of the body to a backend) touches the parsed value:
 * `JSON.parse` builds 100,000 nested arrays without complaint, but `JSON.stringify` of 5,000 of
 * them already overflows the stack.
 */

/**
 * Deepest nesting of arrays and objects a request body may have. Real bodies are shallow: a chat
 * message's content part is 5 levels down (`{messages:[{content:[{image_url:{…}}]}]}`) and a tool's
 * JSON schema starts at level 5 (`{tools:[{function:{parameters:{…}}}]}`), each schema level adding
 * two more (`properties` → property). OpenAI's structured outputs allow 10 schema levels, about
 * 30 JSON levels with the envelope; 128 leaves room for hand-written schemas four times that deep
 * (`anyOf`, `items`, `$defs`), and is still ~30 times below the ~4,000 levels at which Node's
 * `JSON.stringify` overflows the stack.
 */
export const MAX_JSON_DEPTH = 128;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Whether `text` nests arrays/objects deeper than `limit`, counting brackets outside strings.
 * One linear pass, no allocation: string contents are skipped with `indexOf` (vectorised), so a
 * body that is mostly message text costs little more than finding its quotes. The text need not be
 * valid JSON (an unterminated string ends the scan); `JSON.parse` judges validity afterwards.
 *
 * @example
 * jsonDepthExceeds('{"a":[[1]]}', 3); // false: depth 3
 * jsonDepthExceeds('{"a":[[[1]]]}', 3); // true: depth 4
 * jsonDepthExceeds('{"a":"[[[[["}', 3); // false: brackets inside a string do not count
 */
export function jsonDepthExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      if (i === -1) return false;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/** Index of the quote closing the string opened at `open`, or -1 when it is never closed. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at === -1) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if ((backslashes & 1) === 0) return at;
  }
}
