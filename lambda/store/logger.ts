/**
 * The logging surface the store needs: structured, counts and ids only, never keys, hashes or
 * request bodies. A Powertools `Logger` satisfies it.
 */

/** Structured logger used by the store (compatible with `@aws-lambda-powertools/logger`). */
export interface StoreLogger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Writes one JSON line per entry to stderr. */
export const consoleStoreLogger: StoreLogger = {
  error: (message, fields) => process.stderr.write(`${JSON.stringify({ level: 'ERROR', message, ...fields })}\n`),
  warn: (message, fields) => process.stderr.write(`${JSON.stringify({ level: 'WARN', message, ...fields })}\n`),
};
