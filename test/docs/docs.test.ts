/**
 * Docs that cannot rot: README.md stays a five-minute read and names nothing outside the
 * repository; every command in README.md and docs/ is checked against what it calls (npm scripts,
 * the CLI's own option definitions, files); and the README's curl, SDK example and admin basics
 * are run as written against `npm start`'s runtime (the synthesized stack over the bundled config),
 * with only the ports changed to the ones this run got.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCommand } from '../../bin/commands/admin.ts';
import { DEFAULT_STORE_PORT } from '../../local/embedded-dynamo.ts';
import { DEFAULT_CONFIG_PATH } from '../../local/start-local.ts';
import { startStack, type LocalStack } from '../../local/stack/start-stack.ts';
import { checkDocCommand, codeBlocks, docCommands, docFiles, REPO_ROOT, shellCommands, type CodeBlock } from '../helpers/doc-commands.ts';

const run = promisify(execFile);
const read = (file: string): string => readFileSync(join(REPO_ROOT, file), 'utf8');
const README = read('README.md');
const README_BLOCKS = codeBlocks('README.md', README);
const ALL_BLOCKS = docFiles().flatMap((file) => codeBlocks(file, read(file)));

describe('README.md', () => {
  it('is at most 150 lines', () => {
    expect(README.split('\n').length).toBeLessThanOrEqual(150);
  });

  it('and docs/ link only to files of the repository that exist', () => {
    for (const file of docFiles()) {
      const text = read(file);
      expect(text, file).not.toMatch(/\.\.\/shared|DESIGN\.md/);
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const path = resolve(REPO_ROOT, dirname(file), target!);
        expect(relative(REPO_ROOT, path).startsWith('..'), `${file} → ${target}`).toBe(false);
        expect(existsSync(path), `${file} → ${target}`).toBe(true);
      }
    }
  });

  it('and the code name nothing outside the repository (no design card, no sibling folder)', () => {
    const files = ['bin', 'lib', 'lambda', 'local', 'sim', 'bench', 'test', 'examples', 'docs']
      .flatMap((dir) => readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)))
      .filter((f) => /\.(ts|mjs|md|json)$/.test(f) && !f.startsWith(join('bench', 'results')));
    expect(files.length).toBeGreaterThan(100);
    const outside = files.filter((f) => /\.\.\/shared|DESIGN\.md/.test(read(f)));
    expect(outside).toEqual([]);
  });

  it('and docs/ write commands as a clone runs them, in prose too (no bare `splitserve <command>`)', () => {
    for (const file of docFiles()) {
      const bare = [...read(file).matchAll(/`splitserve (?:start|admin|store|sim|bench)\b[^`]*`/g)].map((m) => m[0]);
      expect(bare, file).toEqual([]);
    }
  });

  it("shows the SDK example exactly as examples/chat-stream.mjs holds it", () => {
    const sdk = README_BLOCKS.filter((b) => b.info === 'js');
    expect(sdk).toHaveLength(1);
    expect(`${sdk[0]!.text}\n`).toBe(read('examples/chat-stream.mjs'));
    expect(README).toContain('node examples/chat-stream.mjs');
  });
});

describe('every command in README.md and docs/', () => {
  const commands = docCommands(ALL_BLOCKS);

  it('is found (the check reads the docs at all)', () => {
    expect(commands.filter((c) => c.where.startsWith('README.md')).length).toBeGreaterThanOrEqual(8);
    expect(commands.some((c) => c.words.join(' ').startsWith('npm run admin -- usage'))).toBe(true);
  });

  it('runs as written: scripts exist, flags are the CLI own, files are there', () => {
    const refused = commands.flatMap((c) => {
      try {
        checkDocCommand(c.words);
        return [];
      } catch (err) {
        return [`${c.where}: ${c.source}\n  ${(err as Error).message}`];
      }
    });
    expect(refused).toEqual([]);
  });

  it('would be refused when it does not (the check can fail)', () => {
    const words = (line: string) => shellCommands(line)[0]!.words;
    expect(() => checkDocCommand(words('npm run admin -- tenant create --tenantt acme'))).toThrow(/Unknown option '--tenantt'/);
    expect(() => checkDocCommand(words('npm run admin -- tenants list'))).toThrow(/unknown admin command/);
    expect(() => checkDocCommand(words('splitserve admin tenant list'))).toThrow(/not on the PATH/);
    expect(() => checkDocCommand(words('npm run nosuch'))).toThrow(/no such script/);
    expect(() => checkDocCommand(words('npm start --prot 1'))).toThrow(/only what follows "--"/);
    expect(() => checkDocCommand(words('npm start -- --prot 1'))).toThrow(/Unknown option '--prot'/);
    expect(() => checkDocCommand(words('npm run bench -- goodput --mixs chat'))).toThrow(/Unknown option/);
    expect(() => checkDocCommand(words('node examples/nope.mjs'))).toThrow(/no such file/);
    expect(shellCommands(`LOG_LEVEL=debug npm start -- --config "my file.json"   # comment\nnpm ci && curl -d '{\n}' \\\n  -N`).map((c) => c.words)).toEqual([
      ['LOG_LEVEL=debug', 'npm', 'start', '--', '--config', 'my file.json'],
      ['npm', 'ci'],
      ['curl', '-d', '{\n}', '-N'],
    ]);
  });
});

describe("the README's examples, run as written against npm start's runtime", () => {
  let stack: LocalStack;
  const scratch = join(REPO_ROOT, '.splitserve', `readme-run-${process.pid}`);
  /** The README's addresses, moved to the ports of this run. */
  const here = (text: string) => text.replaceAll('http://127.0.0.1:8787', stack.url).replaceAll(`http://127.0.0.1:${DEFAULT_STORE_PORT}`, stack.storeEndpoint);

  beforeAll(async () => {
    stack = await startStack({ configPath: DEFAULT_CONFIG_PATH, port: 0 });
    await mkdir(scratch, { recursive: true });
  }, 240_000);
  afterAll(async () => {
    await stack?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  const block = (pred: (b: CodeBlock) => boolean): CodeBlock => {
    const found = README_BLOCKS.filter(pred);
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('the curl streams chunks that say the priority tier served them', async () => {
    const curl = block((b) => b.info === 'sh' && b.text.startsWith('curl '));
    const { stdout } = await run('bash', ['-c', here(curl.text)], { timeout: 60_000 });
    const chunks = stdout.split('\n').filter((l) => l.startsWith('data: {'));
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(JSON.parse(chunk.slice(6)).service_tier).toBe('priority');
    expect(stdout.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('node examples/chat-stream.mjs prints the reply and the tier and usage that served it', async () => {
    // Beside the repository's node_modules, as the README's command runs it.
    const file = join(scratch, 'chat-stream.mjs');
    await writeFile(file, here(read('examples/chat-stream.mjs')));
    const { stdout } = await run(process.execPath, [file], { cwd: REPO_ROOT, timeout: 60_000 });
    expect(stdout).toMatch(/\nserved at the priority tier: \{ prompt_tokens: \d+, (completion_tokens: 32, total_tokens: \d+|total_tokens: \d+, completion_tokens: 32) \}\n$/);
    expect(stdout.split('\nserved at')[0]!.trim().split(/\s+/).length).toBeGreaterThan(5);
  });

  it('the admin basics, in order, each exit 0', async () => {
    const admin = block((b) => b.info === 'sh' && b.text.includes('npm run admin -- tenant create') && b.text.includes('--endpoint'));
    const lines = docCommands([{ ...admin, text: here(admin.text) }]);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const { words, source } of lines) {
      expect(words.slice(0, 4)).toEqual(['npm', 'run', 'admin', '--']);
      let err = '';
      const code = await adminCommand(words.slice(4), { out: () => undefined, err: (t) => void (err += t) });
      expect({ source, code, err }).toEqual({ source, code: 0, err: '' });
    }
  });
});
