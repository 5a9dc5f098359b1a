import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareBuild } from '../../bench/build.ts';
import type { BenchBuild } from '../../bench/build.ts';
import { REPO_ROOT, nodeBinary } from '../../bench/processes.ts';

const built: BenchBuild[] = [];
afterAll(() => {
  for (const b of built) if (b.directory) rmSync(b.directory, { recursive: true, force: true });
});

describe('prepareBuild', () => {
  it('bundles the pipe, the Lambda host and the CLI into one fresh directory under the repository, without tsx naming helpers', async () => {
    const build = await prepareBuild('bundle');
    built.push(build);
    expect(build.directory && dirname(dirname(build.directory))).toBe(REPO_ROOT);
    const [pipe, lambdaHost, cli] = [build.pipe, build.lambdaHost, build.cli].map((args) => {
      expect(args).toHaveLength(1);
      return args[0] as string;
    }) as [string, string, string];
    expect(readFileSync(cli, 'utf8')).not.toContain('function createGateway('); // minified
    for (const file of [pipe, lambdaHost, cli]) {
      expect(dirname(file)).toBe(build.directory);
      const text = readFileSync(file, 'utf8');
      expect(text).not.toContain('__name');
      expect(text).not.toMatch(/from\s*"\.\.?\//); // our modules are inside; only packages are imported
    }
    // The bundled CLI runs from there: packages resolve from the repository's node_modules.
    const help = execFileSync(nodeBinary(), [cli, 'start', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(help).toMatch(/^usage: npm start -- \[--config FILE\]/);
  });

  it('keeps identifiers when asked for a readable build (profiles name functions as the sources do)', async () => {
    const build = await prepareBuild('bundle', { readable: true });
    built.push(build);
    const text = readFileSync(join(build.directory as string, 'splitserve.mjs'), 'utf8');
    expect(text).toContain('function createGateway(');
    expect(text).not.toContain('__name');
  });

  it('runs the sources through tsx for --build source', async () => {
    const build = await prepareBuild('source');
    expect(build).toEqual({
      kind: 'source',
      pipe: ['--import', 'tsx', 'bench/bare-pipe.ts'],
      lambdaHost: ['--import', 'tsx', 'bench/lambda-host.ts'],
      cli: ['--import', 'tsx', 'bin/splitserve.ts'],
      directory: undefined,
    });
  });
});
