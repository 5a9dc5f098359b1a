/**
 * The builds the bench runs the bare pipe, the Lambda host and the splitserve CLI from.
 *
 * - `bundle` (default): each is one ESM file built by esbuild like the Lambda functions are built
 *   (ESM, minified, no source map; lib/splitserve-function.ts), with packages left external: they
 *   load from node_modules, so the files are written under the repository, where Node resolves
 *   them, and the build takes well under a second. The gateway's code thus runs as it does
 *   deployed, without a dev loader in between; the entry is the CLI (`start --runtime node`), not
 *   a Lambda handler.
 * - `source`: the TypeScript sources through tsx, as `npm start` runs the CLI. tsx keeps function
 *   names (esbuild's `keepNames`): it wraps every named function and class it creates in a
 *   `__name()` call, a cost per closure the deployed build does not have.
 *
 * The pipe, the Lambda host and the CLI always get the same build: the comparison stays like for like.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildKind } from './cli-options.ts';
import { REPO_ROOT } from './processes.ts';

/** How to start the bench's servers and the splitserve CLI with node: the arguments before their own. */
export interface BenchBuild {
  readonly kind: BuildKind;
  /** Arguments that run bench/bare-pipe.ts. */
  readonly pipe: readonly string[];
  /** Arguments that run bench/lambda-host.ts (the handler it loads is the cloud assembly's bundle either way). */
  readonly lambdaHost: readonly string[];
  /** Arguments that run bin/splitserve.ts (then `start …`, `store …`). */
  readonly cli: readonly string[];
  /** The directory of the bundles; `undefined` for `source`. */
  readonly directory: string | undefined;
}

/** Options of {@link prepareBuild}. */
export interface BuildOptions {
  /**
   * Keep identifiers and whitespace (no minifying), for CPU profiles that name functions and
   * lines as in the sources. @default false
   */
  readonly readable?: boolean;
}

/** The splitserve CLI from its sources through tsx: the backends' command whatever the build. */
export const SOURCE_CLI: readonly string[] = ['--import', 'tsx', 'bin/splitserve.ts'];

const SOURCES: Pick<BenchBuild, 'pipe' | 'lambdaHost' | 'cli'> = {
  pipe: ['--import', 'tsx', 'bench/bare-pipe.ts'],
  lambdaHost: ['--import', 'tsx', 'bench/lambda-host.ts'],
  cli: SOURCE_CLI,
};

/**
 * Prepares `kind`: for `bundle`, builds the three files into a fresh directory
 * `.splitserve/bench-build-XXXXXX/` (the caller removes it; it is removed here if the build fails).
 *
 * Paths the code takes from `import.meta.url` are then relative to that directory, two levels
 * below the repository root: local/stack/synth.ts's repository root (`../../`) and
 * local/embedded-dynamo.ts's package resolution still work; local/start-local.ts's default config
 * file does not (the bench always passes `--config`), nor does bench/processes.ts's `REPO_ROOT`
 * (unused by the pipe and the Lambda host, and by the CLI outside `splitserve bench`).
 *
 * @throws Error with esbuild's message when a build fails
 */
export async function prepareBuild(kind: BuildKind, options: BuildOptions = {}): Promise<BenchBuild> {
  if (kind === 'source') return { kind, ...SOURCES, directory: undefined };
  const parent = join(REPO_ROOT, '.splitserve'); // gitignored; absent in a fresh clone
  mkdirSync(parent, { recursive: true });
  const directory = mkdtempSync(join(parent, 'bench-build-'));
  try {
    // Imported here, not at the top: a bundle hoists the package imports of the CLI's lazily
    // loaded commands (bench among them), and every bundled `start` and `store` would load esbuild.
    const { build } = await import('esbuild');
    await build({
      entryPoints: [
        { in: join(REPO_ROOT, 'bench', 'bare-pipe.ts'), out: 'bare-pipe' },
        { in: join(REPO_ROOT, 'bench', 'lambda-host.ts'), out: 'lambda-host' },
        { in: join(REPO_ROOT, 'bin', 'splitserve.ts'), out: 'splitserve' },
      ],
      outdir: directory,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: options.readable !== true,
      sourcemap: false,
      logLevel: 'silent',
    });
  } catch (err) {
    rmSync(directory, { recursive: true, force: true });
    throw err;
  }
  const file = (name: string): string => join(directory, `${name}.mjs`);
  return { kind, pipe: [file('bare-pipe')], lambdaHost: [file('lambda-host')], cli: [file('splitserve')], directory };
}
