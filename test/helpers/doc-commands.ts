/**
 * The shell commands of README.md and docs/*.md, read as a reader would copy them, and checked
 * against what they call: npm scripts against package.json, splitserve subcommands against the
 * CLI's own option definitions (the parsers the commands run), files against the tree.
 *
 * Which blocks: every fenced block except those marked as output or data (```text, ```json,
 * ```jsonc, ```js, ```ts); in them, every line that starts with npm, npx, node, curl or splitserve.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from '../../bench/cli-options.ts';
import { parseGoodputArgs } from '../../bench/goodput/cli.ts';
import { ADMIN_COMMANDS, ADMIN_OPTIONS } from '../../bin/commands/admin.ts';
import { parseCommandLine } from '../../bin/commands/command-line.ts';
import { SIM_OPTIONS } from '../../bin/commands/sim.ts';
import { parsePlanArgs } from '../../bin/commands/plan.ts';
import { START_OPTIONS } from '../../bin/commands/start.ts';
import { STORE_OPTIONS } from '../../bin/commands/store.ts';
import { parseOverloadArgs } from '../../bench/overload/cli.ts';
import { parseSoakArgs } from '../../bench/soak/cli.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A fenced code block of a markdown file. */
export interface CodeBlock {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The info string after the fence (`sh`, `js`, `text`, or empty). */
  readonly info: string;
  readonly text: string;
}

/** A command line of a block: where it is, and its words after shell quoting. */
export interface DocCommand {
  readonly where: string;
  readonly source: string;
  readonly words: readonly string[];
}

/** Blocks that are output, data or code, not commands to type. */
const NOT_COMMANDS = new Set(['text', 'json', 'jsonc', 'js', 'mjs', 'ts', 'typescript', 'javascript']);
const COMMAND_START = /^(npm|npx|node|curl|splitserve)$/;

/** README.md and every docs/*.md, repository-relative. */
export function docFiles(root = REPO_ROOT): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

/** The fenced code blocks of a markdown text. */
export function codeBlocks(file: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !lines[i]!.startsWith('```')) body.push(lines[i]!);
    blocks.push({ file, line: start + 1, info: open[1]!.trim(), text: body.join('\n') });
  }
  return blocks;
}

/**
 * Splits shell text into commands of words as sh would: single and double quotes (a quoted string
 * may span lines), backslash escapes and line continuations, `# comments`; a newline, `&&` or `;`
 * outside quotes ends a command. Each command comes with the 0-based line it starts on.
 *
 * @example
 * shellCommands(`npm ci && npm start -- --port 0   # two`).map((c) => c.words); // [['npm', 'ci'], ['npm', 'start', '--', '--port', '0']]
 */
export function shellCommands(text: string): Array<{ words: string[]; line: number }> {
  const commands: Array<{ words: string[]; line: number }> = [{ words: [], line: 0 }];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  let line = 0;
  const endWord = (): void => {
    if (word !== null) commands.at(-1)!.words.push(word);
    word = null;
  };
  const endCommand = (): void => {
    endWord();
    if (commands.at(-1)!.words.length > 0) commands.push({ words: [], line });
    else commands.at(-1)!.line = line;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) word += text[++i]!;
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && text[i + 1] === '\n') {
      endWord();
      i++;
      line++;
    } else if (c === '\\' && i + 1 < text.length) word = (word ?? '') + text[++i]!;
    else if (c === '\n' || c === ';' || (c === '&' && text[i + 1] === '&')) {
      if (c === '&') i++;
      endCommand();
    } else if (/\s/.test(c)) endWord();
    else if (c === '#' && word === null) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else word = (word ?? '') + c;
  }
  if (quote) throw new Error(`unbalanced ${quote} in: ${text}`);
  endWord();
  return commands.filter((c) => c.words.length > 0);
}

/** The commands of the blocks that hold commands (a leading `$ ` prompt dropped). */
export function docCommands(blocks: readonly CodeBlock[]): DocCommand[] {
  const out: DocCommand[] = [];
  for (const block of blocks) {
    if (NOT_COMMANDS.has(block.info)) continue;
    const lines = block.text.split('\n');
    // A block with no line that starts with a command (a diagram, a listing) is not shell.
    if (!lines.some((l) => /^(\$ )?([A-Z_][A-Z0-9_]*=\S*\s+)*(npm|npx|node|curl|splitserve)\b/.test(l.trim()))) continue;
    for (const { words, line } of shellCommands(block.text.replace(/^\$ /gm, ''))) {
      const first = words.findIndex((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w));
      if (first < 0 || !COMMAND_START.test(words[first]!)) continue;
      out.push({ where: `${block.file}:${block.line + 1 + line}`, source: lines[line]!.trim(), words: words.slice(first) });
    }
  }
  return out;
}

/** The npm scripts that run a splitserve subcommand, and the words they put first. */
const SCRIPT_COMMANDS: Record<string, readonly string[]> = {
  start: ['start'],
  sim: ['sim'],
  store: ['store'],
  admin: ['admin'],
  bench: ['bench'],
  'bench:goodput': ['bench', 'goodput'],
  'bench:overload': ['bench', 'overload'],
  soak: ['bench', 'soak'],
  plan: ['plan'],
};

/**
 * Checks one subcommand's arguments with the option definitions the CLI runs: throws what the CLI
 * would refuse (an unknown option, a missing value, an unknown admin command).
 */
export function checkSplitserveArgs(words: readonly string[]): void {
  const [command, ...args] = words;
  switch (command) {
    case 'start':
      parseCommandLine(args, START_OPTIONS);
      return;
    case 'sim':
      parseCommandLine(args, SIM_OPTIONS);
      return;
    case 'store':
      parseCommandLine(args, STORE_OPTIONS);
      return;
    case 'admin': {
      const { positionals, values } = parseCommandLine(args, ADMIN_OPTIONS, true);
      if (values.help) return;
      const named = positionals.slice(0, 2).join(' ');
      if (!ADMIN_COMMANDS.some((c) => named === c || named.startsWith(`${c} `) || positionals[0] === c)) throw new Error(`unknown admin command "${positionals.join(' ')}"`);
      return;
    }
    case 'bench':
      if (args[0] === 'goodput') parseGoodputArgs(args.slice(1));
      else if (args[0] === 'overload') parseOverloadArgs(args.slice(1));
      else if (args[0] === 'soak') parseSoakArgs(args.slice(1));
      else parseBenchArgs(args);
      return;
    case 'plan':
      parsePlanArgs(args);
      return;
    default:
      throw new Error(`unknown splitserve command "${command}"`);
  }
}

/**
 * Checks a documented command as a reader of a clone would run it; throws why it would not run.
 *
 * @example
 * checkDocCommand(['npm', 'run', 'admin', '--', 'tenant', 'list', '--endpoint', 'http://127.0.0.1:4567']);
 */
export function checkDocCommand(words: readonly string[], root = REPO_ROOT): void {
  const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const [tool, ...rest] = words;
  // npm keeps the options before "--" for itself; the script gets its words and what follows "--".
  const afterDashes = (list: readonly string[]): string[] => {
    const at = list.indexOf('--');
    const before = at < 0 ? list : list.slice(0, at);
    if (before.some((w) => w.startsWith('-'))) throw new Error(`npm passes only what follows "--" to the script: ${words.join(' ')}`);
    return at < 0 ? [...list] : [...before, ...list.slice(at + 1)];
  };
  switch (tool) {
    case 'splitserve':
      throw new Error('"splitserve" is not on the PATH of a clone: write npm start --, npm run <command> --, or npx tsx bin/splitserve.ts');
    case 'node': {
      const file = rest.find((w) => !w.startsWith('-'));
      if (file && !existsSync(join(root, file))) throw new Error(`node ${file}: no such file`);
      return;
    }
    case 'curl':
      return;
    case 'npx': {
      if (rest[0] === 'tsx' && rest[1] === 'bin/splitserve.ts') return checkSplitserveArgs(rest.slice(2));
      if (rest[0] === 'tsx' && rest[1] && !existsSync(join(root, rest[1]))) throw new Error(`npx tsx ${rest[1]}: no such file`);
      const config = rest.find((w) => w.startsWith('config='));
      if (rest[0] === 'cdk' && config && !existsSync(join(root, config.slice('config='.length)))) throw new Error(`${config}: no such file`);
      return;
    }
    case 'npm': {
      const [verb, ...more] = rest;
      if (verb === 'ci' || verb === 'install') return;
      const [script, args] = verb === 'run' ? [more[0]!, more.slice(1)] : [verb!, more];
      if (verb !== 'run' && !['start', 'test'].includes(verb!)) throw new Error(`npm ${verb}: not a command this project documents (npm run ${verb}?)`);
      if (!(script in scripts)) throw new Error(`npm run ${script}: package.json has no such script`);
      const passed = afterDashes(args);
      if (script in SCRIPT_COMMANDS) return checkSplitserveArgs([...SCRIPT_COMMANDS[script]!, ...passed]);
      // Other scripts (test, test:e2e, localstack:deploy, …): the script exists; their
      // arguments go to tools with parsers of their own.
      return;
    }
    default:
      throw new Error(`unknown command ${tool}`);
  }
}
