/**
 * Lambda layers that ship one npm package at the version tested, for packages the function
 * bundles keep external because only some deployments load them (the Bedrock Runtime client when
 * a pool speaks Bedrock, the Powertools tracer with `-c traceCalls=true`). Built offline with
 * esbuild, no Docker.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Architecture, Code, LayerVersion } from 'aws-cdk-lib/aws-lambda';
import { buildSync } from 'esbuild';
import type { Construct } from 'constructs';
import { NODE_RUNTIME } from './runtime.ts';

/**
 * ESM bundles holding CommonJS modules that `require()` Node built-ins need a real `require`
 * (the same banner lib/splitserve-function.ts gives the function bundles).
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __splitserveCreateRequire } from 'node:module'; const require = __splitserveCreateRequire(import.meta.url);";

const built = new Map<string, string>();

/** The installed version of a package (read beside its entry point: not every package exports its package.json). */
function installedVersion(module: string): string {
  const entry = createRequire(import.meta.url).resolve(module);
  const marker = `${sep}node_modules${sep}${module.split('/').join(sep)}${sep}`;
  const dir = entry.slice(0, entry.lastIndexOf(marker) + marker.length);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Builds, once per process and package, the content of a layer holding the installed `module`:
 * the package and everything it imports bundled by esbuild into one minified ES module,
 * `nodejs/node_modules/<module>/index.mjs`, with a `package.json` naming the version. Lambda
 * resolves `nodejs/node_modules` of a layer for ES module imports on Node.js 18 and later.
 *
 * @returns the layer's root directory (a fresh temporary directory; same content for the same
 *   installed version, so the same asset hash)
 * @example
 * buildModuleLayer('@aws-sdk/client-bedrock-runtime'); // '/tmp/splitserve-layer-…'
 */
export function buildModuleLayer(module: string): string {
  const existing = built.get(module);
  if (existing) return existing;
  const root = mkdtempSync(join(tmpdir(), 'splitserve-layer-'));
  const pkgDir = join(root, 'nodejs', 'node_modules', ...module.split('/'));
  mkdirSync(pkgDir, { recursive: true });
  buildSync({
    stdin: { contents: `export * from '${module}';`, resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    minify: true,
    legalComments: 'none',
    banner: { js: ESM_REQUIRE_BANNER },
    outfile: join(pkgDir, 'index.mjs'),
    logLevel: 'error',
  });
  const pkg = { name: module, version: installedVersion(module), type: 'module', main: './index.mjs', exports: { '.': './index.mjs' } };
  writeFileSync(join(pkgDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  built.set(module, root);
  return root;
}

/**
 * The stack's layer for `module` (see {@link buildModuleLayer}), created on first use under `id`,
 * one per stack.
 *
 * @example
 * fn.addLayers(moduleLayer(fn, 'BedrockClientLayer', '@aws-sdk/client-bedrock-runtime'));
 */
export function moduleLayer(scope: Construct, id: string, module: string): LayerVersion {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(id);
  if (existing instanceof LayerVersion) return existing;
  return new LayerVersion(stack, id, {
    code: Code.fromAsset(buildModuleLayer(module)),
    compatibleRuntimes: [NODE_RUNTIME],
    compatibleArchitectures: [Architecture.ARM_64],
    description: `${module} bundled at the version splitserve was tested with`,
  });
}
