/**
 * What the long-running commands (`start`, `sim`, `store`) share: parsing their options, port
 * checks and running until Ctrl-C or a termination signal.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<T extends Options> = ReturnType<typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>>['values'];

/**
 * Parses a command's options (strict, no positionals). Returns their values, or the exit code
 * when there is nothing to run: 0 after `usage` on stdout for `--help`, 2 after the parser's
 * message and `usage` on stderr. `options` should declare `help` (`-h`).
 *
 * @example
 * const values = commandOptions(args, { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE);
 * if (typeof values === 'number') return values;
 */
export function commandOptions<const T extends Options>(args: string[], options: T, usage: string): Values<T> | number {
  let values: Values<T>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return 2;
  }
  if ((values as { help?: unknown }).help === true) {
    process.stdout.write(usage);
    return 0;
  }
  return values;
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
