/**
 * The structured logger the core writes to: an interface satisfied by Powertools' `Logger`, so
 * tests can capture records and the core never depends on where logs go.
 */
import { Logger } from '@aws-lambda-powertools/logger';

/** Structured log sink (Powertools `Logger` shape). */
export interface GatewayLogger {
  debug(message: string, ...extra: Array<Record<string, unknown>>): void;
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/**
 * Whether `logger` writes DEBUG records, so a caller can skip building a routine record's fields
 * (Powertools builds the whole record before it checks the level). Loggers that do not say, such
 * as test captures, are assumed to. The answer is kept for a second per logger: Powertools reads
 * the environment on every level check, and a level set at run time applies within that second.
 */
export function writesDebug(logger: GatewayLogger, now = Date.now()): boolean {
  const known = DEBUG_CHECKS.get(logger);
  if (known && now < known.until) return known.debug;
  const level = (logger as { getLevelName?: () => string }).getLevelName?.();
  const debug = level === undefined || level === 'DEBUG' || level === 'TRACE';
  DEBUG_CHECKS.set(logger, { debug, until: now + 1000 });
  return debug;
}

const DEBUG_CHECKS = new WeakMap<GatewayLogger, { debug: boolean; until: number }>();

/** The Powertools logger of the gateway (service `splitserve`, level from `POWERTOOLS_LOG_LEVEL`). */
export function createLogger(): GatewayLogger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'splitserve' });
}

/**
 * A logger writing one JSON line per record to stderr, at every level: the default of the parts
 * (store, pool directory) built without the gateway's logger, such as the CLI's.
 */
export const stderrLogger: GatewayLogger = {
  debug: (message, ...extra) => writeLine('DEBUG', message, extra),
  info: (message, ...extra) => writeLine('INFO', message, extra),
  warn: (message, ...extra) => writeLine('WARN', message, extra),
  error: (message, ...extra) => writeLine('ERROR', message, extra),
};

function writeLine(level: string, message: string, extra: Array<Record<string, unknown>>): void {
  process.stderr.write(`${JSON.stringify(Object.assign({ level, message }, ...extra))}\n`);
}
