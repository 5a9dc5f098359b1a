/**
 * The layering of lambda/: the core and the routing policies name the backends, the store and
 * the handlers only through the ports the core declares (lambda/core/ports.ts,
 * lambda/core/backend-ports.ts), and no module imports itself back through others (type imports
 * included). Read from the sources with TypeScript's own import scanner.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '../..'));

/** Every .ts file under `dir`, relative to the repository root. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** File → the files of this repository it imports (relative specifiers, type imports included). */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, false);
    graph.set(
      file,
      importedFiles.map((i) => i.fileName).filter((name) => name.startsWith('.')).map((name) => normalize(join(dirname(file), name))),
    );
  }
  return graph;
}

/** The strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const graph = importGraph(sources('lambda'));

describe('the layering of lambda/', () => {
  it('reads every module of lambda/ and its imports', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get(join('lambda', 'core', 'plan-steps.ts'))).toContain(join('lambda', 'core', 'backend-ports.ts'));
  });

  it.each(['core', 'routing'])('lambda/%s imports nothing from lambda/backends, lambda/store or lambda/handlers', (layer) => {
    const outward = [...graph]
      .filter(([file]) => file.startsWith(join('lambda', layer) + '/'))
      .flatMap(([file, imports]) => imports.filter((i) => /^lambda\/(backends|store|handlers)\//.test(i)).map((i) => `${file} → ${i}`));
    expect(outward).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('would see a cycle', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
  });
});
