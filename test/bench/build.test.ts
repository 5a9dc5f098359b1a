import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
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
  it('bundles the relay and the CLI into one fresh directory under the repository, without tsx naming helpers', async () => {
    const build = await prepareBuild('bundle');
    built.push(build);
    expect(build.directory && dirname(dirname(build.directory))).toBe(REPO_ROOT);
    const [relay, cli] = [build.relay, build.cli].map((args) => {
      expect(args).toHaveLength(1);
      return args[0] as string;
    });
    for (const file of [relay as string, cli as string]) {
      expect(dirname(file)).toBe(build.directory);
      const text = readFileSync(file, 'utf8');
      expect(text).not.toContain('__name');
      expect(text).not.toMatch(/from\s*"\.\.?\//); // our modules are inside; only packages are imported
    }
    // The bundled CLI runs from there: packages resolve from the repository's node_modules.
    const help = execFileSync(nodeBinary(), [cli as string, 'start', '--help'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(help).toMatch(/^usage: splitserve start/);
  });

  it('gives each call its own directory', async () => {
    const a = await prepareBuild('bundle');
    const b = await prepareBuild('bundle');
    built.push(a, b);
    expect(a.directory).not.toBe(b.directory);
    expect(existsSync(join(a.directory as string, 'splitserve.mjs'))).toBe(true);
  });

  it('runs the sources through tsx for --build source', async () => {
    const build = await prepareBuild('source');
    expect(build).toEqual({ kind: 'source', relay: ['--import', 'tsx', 'bench/minimal-relay.ts'], cli: ['--import', 'tsx', 'bin/splitserve.ts'], directory: undefined });
  });
});
