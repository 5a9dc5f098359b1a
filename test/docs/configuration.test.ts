/**
 * docs/configuration.md cannot drift from the schema the gateway validates with: every field of
 * `configSchema` (lambda/core/config.ts), at every depth, is named in the page's code (its
 * example block or an inline code span).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../lambda/core/config.ts';

interface Def {
  readonly type: string;
  readonly shape?: Record<string, unknown>;
  readonly innerType?: unknown;
  readonly element?: unknown;
  readonly valueType?: unknown;
  readonly options?: readonly unknown[];
  readonly in?: unknown;
  readonly left?: unknown;
  readonly right?: unknown;
  readonly getter?: () => unknown;
}

/** Every field path of a zod schema (`pools.*.simulate.profile`, `tenants[].id`) → its key. */
function fieldsOf(schema: unknown, path = '', out = new Map<string, string>()): Map<string, string> {
  const def = (schema as { _zod: { def: Def } })._zod.def;
  switch (def.type) {
    case 'object':
      for (const [key, value] of Object.entries(def.shape!)) {
        const at = path ? `${path}.${key}` : key;
        out.set(at, key);
        fieldsOf(value, at, out);
      }
      break;
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      fieldsOf(def.innerType, path, out);
      break;
    case 'array':
      fieldsOf(def.element, `${path}[]`, out);
      break;
    case 'record':
      fieldsOf(def.valueType, `${path}.*`, out);
      break;
    case 'union':
      for (const option of def.options!) fieldsOf(option, path, out);
      break;
    case 'pipe':
      fieldsOf(def.in, path, out);
      break;
    case 'intersection':
      fieldsOf(def.left, path, out);
      fieldsOf(def.right, path, out);
      break;
    case 'lazy':
      fieldsOf(def.getter!(), path, out);
      break;
  }
  return out;
}

const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
/** The page's code: fenced blocks and inline spans. */
const code = [...page.matchAll(/```[^\n]*\n([\s\S]*?)```|`([^`\n]+)`/g)].map((m) => m[1] ?? m[2]).join('\n');
const named = (key: string): boolean => new RegExp(`(?<![\\w-])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`).test(code);

describe('docs/configuration.md', () => {
  const fields = fieldsOf(configSchema);

  it('reads the whole schema (top level, nested records, arrays, unions)', () => {
    expect([...fields.keys()]).toEqual(expect.arrayContaining(['pools', 'pools.*.simulate.profile', 'tiers.*.slo.ttftMs', 'tenants[].limits.*.monthlyTokens', 'admission.shards']));
    expect(named('no-such-field-anywhere')).toBe(false);
  });

  it('names every field of the schema', () => {
    expect([...fields].filter(([, key]) => !named(key)).map(([path]) => path)).toEqual([]);
  });
});
