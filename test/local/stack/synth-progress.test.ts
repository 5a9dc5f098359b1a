/**
 * What a synth says while it runs: what it does, then every SYNTH_PROGRESS_MS that it is still
 * going with the time so far, then how long it took; and a second start with the same inputs
 * says it reuses the assembly. The CDK CLI is a stand-in here (a script at the path of the pinned
 * CLI that takes six seconds and writes a manifest): the real synth is run by start-stack.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTH_PROGRESS_MS, synthesize } from '../../../local/stack/synth.ts';

const SLOW_CDK = `
const out = process.argv[process.argv.indexOf('-o') + 1];
setTimeout(() => {
  require('node:fs').mkdirSync(out, { recursive: true });
  require('node:fs').writeFileSync(require('node:path').join(out, 'manifest.json'), '{}');
}, ${SYNTH_PROGRESS_MS + 1000});
`;

describe('synth progress', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'splitserve-synth-'));
    await mkdir(join(root, 'node_modules', 'aws-cdk', 'bin'), { recursive: true });
    await writeFile(join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk'), SLOW_CDK);
    await writeFile(join(root, 'config.json'), '{}');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('says what it does, that it is still going with the seconds so far, and how long it took; then that it reuses it', async () => {
    const lines: string[] = [];
    const options = { configPath: join(root, 'config.json'), repoRoot: root, outDir: join(root, 'out'), onProgress: (m: string) => lines.push(m) };
    const first = await synthesize(options);
    expect(first.cached).toBe(false);
    expect(lines[0]).toMatch(/^synthesizing stack… \(first start, or a source or the config changed\)/);
    expect(lines.filter((l) => /^still synthesizing \(\d+\.\d s\)…$/.test(l)).length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatch(/^synthesized the stack in \d+\.\d s \(cached in out for the next start\)$/);

    lines.length = 0;
    expect((await synthesize(options)).cached).toBe(true);
    expect(lines).toEqual(['using cached synth (out)']);
  }, 30_000);
});
