/**
 * What every subcommand shares: one option parser, one way to refuse a command line (one line,
 * then where the help is), one way to report an expected failure (a port in use, a store that does
 * not answer: one line and a hint, exit code 1, no stack), and running until Ctrl-C.
 *
 * The hints name commands as a user of a clone runs them (`npm run admin -- --help`): the
 * `splitserve` binary is not on the PATH of a clone.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Option definitions, as `node:util` `parseArgs` takes them. */
export type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: true }>>;

/**
 * How each subcommand is run from a clone, for hints: `npm start --`, `npm run admin --`, ….
 * `bench goodput`, `bench overload` and `bench soak` are subcommands of `bench` (also the npm
 * scripts `bench:goodput`, `bench:overload` and `soak`).
 */
export const HOW_TO_RUN = {
  start: 'npm start --',
  sim: 'npm run sim --',
  store: 'npm run store --',
  admin: 'npm run admin --',
  bench: 'npm run bench --',
  'bench goodput': 'npm run bench -- goodput',
  'bench overload': 'npm run bench -- overload',
  'bench soak': 'npm run bench -- soak',
  plan: 'npm run plan --',
} as const;
export type CommandName = keyof typeof HOW_TO_RUN;

/** A command line that cannot run: the message is one line for the user, without the usage text. */
export class CommandLineError extends Error {
  override readonly name: string = 'CommandLineError';
}

/**
 * An expected failure while a command runs (not a bug): one line, a hint of what to do, exit code 1.
 *
 * @example
 * throw new CommandFailure('port 8787 on 127.0.0.1 is in use', 'stop what listens there, or pass --port N');
 */
export class CommandFailure extends Error {
  override readonly name: string = 'CommandFailure';
  constructor(
    message: string,
    /** What to do about it, e.g. `pass --port N`. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * Parses a command line with the command's own option definitions (strict: an unknown option, a
 * missing value or, unless `allowPositionals`, a positional is a {@link CommandLineError}).
 *
 * @example
 * const { values } = parseCommandLine(args, { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
 */
export function parseCommandLine<const T extends Options>(args: readonly string[], options: T, allowPositionals = false): Parsed<T> {
  try {
    const parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
    if (!allowPositionals && parsed.positionals.length > 0) throw new CommandLineError(`unexpected argument "${parsed.positionals[0]}"`);
    return parsed as Parsed<T>;
  } catch (err) {
    if (err instanceof CommandLineError) throw err;
    // node's messages go on with advice about '--' that does not apply here: the first sentence.
    throw new CommandLineError((err as Error).message.split(/\.\s/)[0]!.replace(/\.$/, ''));
  }
}

/**
 * Runs a command's body and turns what it throws into what a user should see: a
 * {@link CommandLineError} as `splitserve <command>: <message>` and `see: npm run … --help` on
 * stderr (exit code 2); a {@link CommandFailure}, or a port that is taken or not allowed, or a
 * store that does not answer, as one line and a hint (exit code 1). Anything else is a bug and
 * keeps its stack.
 *
 * @example
 * export const storeCommand = (args: string[]) => runCommand('store', async () => { … return 0; });
 */
export async function runCommand(name: CommandName, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CommandLineError) {
      process.stderr.write(argumentErrorText(name, err.message));
      return 2;
    }
    const failure = expectedFailure(err);
    if (!failure) throw err;
    process.stderr.write(failureText(name, failure));
    return 1;
  }
}

/**
 * {@link runCommand} for a command whose parsed options carry `help`: prints `usage` and resolves 0
 * when asked for help, runs the command with its options otherwise.
 *
 * @example
 * return runParsed('bench goodput', args, parseGoodputArgs, GOODPUT_USAGE, runGoodput);
 */
export function runParsed<O extends { readonly help: boolean }>(
  name: CommandName,
  args: readonly string[],
  parse: (args: string[]) => O,
  usage: string,
  run: (options: O) => Promise<number>,
): Promise<number> {
  return runCommand(name, async () => {
    const options = parse([...args]);
    if (options.help) {
      process.stdout.write(usage);
      return 0;
    }
    return run(options);
  });
}

/**
 * What a refused command line prints: one line, then where the help is.
 *
 * @example
 * argumentErrorText('admin', '--tenant is required');
 * // 'splitserve admin: --tenant is required\nsee: npm run admin -- --help\n'
 */
export function argumentErrorText(name: CommandName, message: string): string {
  return `splitserve ${name}: ${message}\nsee: ${HOW_TO_RUN[name]} --help\n`;
}

/** What an expected failure prints: one line, and its hint on a second when it has one. */
export function failureText(name: CommandName, failure: CommandFailure): string {
  return `splitserve ${name}: ${failure.message}${failure.hint ? `\n  hint: ${failure.hint}` : ''}\n`;
}

/**
 * The {@link CommandFailure} an error stands for, when it is one a user causes and can fix: a
 * listen error (`EADDRINUSE`, `EACCES`) or a refused connection; `undefined` for anything else.
 *
 * @example
 * expectedFailure(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', address: '127.0.0.1', port: 8787 }));
 * // CommandFailure('port 8787 on 127.0.0.1 is in use', 'stop what listens there (another npm start?) or pick another port')
 */
export function expectedFailure(err: unknown): CommandFailure | undefined {
  if (err instanceof CommandFailure) return err;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const code = e?.code ?? (e?.cause as NodeJS.ErrnoException | undefined)?.code;
  const where = e?.port !== undefined ? `port ${e.port}${e.address ? ` on ${e.address}` : ''}` : 'the port';
  if (code === 'EADDRINUSE') return new CommandFailure(`${where} is in use`, 'stop what listens there (another npm start?) or pick another port');
  if (code === 'EACCES' && e?.syscall === 'listen') return new CommandFailure(`${where} is not allowed for this user`, 'pick a port above 1023');
  if (code === 'EADDRNOTAVAIL') return new CommandFailure(`cannot listen on ${e.address ?? 'that address'}: no such local address`, 'use --host 127.0.0.1, or an address of this machine');
  if (code === 'ECONNREFUSED') return new CommandFailure(`nothing answers at ${e.address ?? 'the address given'}${e.port ? `:${e.port}` : ''}`, 'check the URL, and that the store or gateway is running');
  return undefined;
}

/**
 * Throws a {@link CommandLineError} unless `text` is a TCP port number (0 picks a free one).
 *
 * @example
 * const port = portOption('--port', values.port); // 8787
 */
export function portOption(flag: string, text: string): number {
  const port = Number(text);
  if (text.trim() === '' || !isPort(port)) throw new CommandLineError(`invalid ${flag} "${text}": expected a port number, 0 to 65535`);
  return port;
}

/** Whether `port` is a TCP port number (0 picks a free one). */
export function isPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** Resolves on the first SIGINT or SIGTERM, then stops listening for both. */
export function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
