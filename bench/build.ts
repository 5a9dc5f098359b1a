/**
 * The builds the bench runs the relay and the gateway from.
 *
 * - `bundle` (default): each is one ESM file built by esbuild with the options the CDK stack builds
 *   the Lambda functions with (ESM, minified, no source map), so what is measured is the build that
 *   runs in AWS. Dependencies stay in node_modules (`packages: 'external'`): the files are written
 *   under the repository, where Node resolves them, and the build takes well under a second.
 * - `source`: the TypeScript sources through tsx, as `npm run sim` and `start --runtime node` run them.
 *   tsx keeps function names by wrapping every function it creates in `__name()`, a per-closure cost
 *   the Lambda build does not have (about 20 µs per request for the gateway on this machine).
 *
 * The relay and the gateway always get the same build: the comparison stays like for like.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { BuildKind } from './cli-options.ts';
import { REPO_ROOT } from './processes.ts';

/** How to start the relay and the splitserve CLI with node: the arguments before their own. */
export interface BenchBuild {
  readonly kind: BuildKind;
  /** Arguments that run bench/minimal-relay.ts. */
  readonly relay: readonly string[];
  /** Arguments that run bin/splitserve.ts (then `start …`, `store …`). */
  readonly cli: readonly string[];
  /** The directory of the bundles, to remove after the run; `undefined` for `source`. */
  readonly directory: string | undefined;
}

const SOURCES: Pick<BenchBuild, 'relay' | 'cli'> = {
  relay: ['--import', 'tsx', 'bench/minimal-relay.ts'],
  cli: ['--import', 'tsx', 'bin/splitserve.ts'],
};

/**
 * Prepares `kind`: for `bundle`, builds both files into a fresh directory under
 * `.splitserve/` (two levels below the repository root, as bin/splitserve.ts is one and
 * local/stack/synth.ts two: paths the code takes from `import.meta.url` resolve inside the
 * repository).
 *
 * @throws Error with esbuild's message when a build fails
 */
export async function prepareBuild(kind: BuildKind): Promise<BenchBuild> {
  if (kind === 'source') return { kind, ...SOURCES, directory: undefined };
  const parent = join(REPO_ROOT, '.splitserve'); // gitignored; absent in a fresh clone
  mkdirSync(parent, { recursive: true });
  const directory = mkdtempSync(join(parent, 'bench-build-'));
  const outfile = (name: string): string => join(directory, `${name}.mjs`);
  await build({
    entryPoints: [
      { in: join(REPO_ROOT, 'bench', 'minimal-relay.ts'), out: 'minimal-relay' },
      { in: join(REPO_ROOT, 'bin', 'splitserve.ts'), out: 'splitserve' },
    ],
    outdir: directory,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
  });
  return { kind, relay: [outfile('minimal-relay')], cli: [outfile('splitserve')], directory };
}
