/**
 * A logger that keeps records in memory instead of printing them (tests read them when needed).
 */
import type { GatewayLogger } from '../../lambda/core/logger.ts';

/** A captured log record. */
export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** Creates a capturing logger. */
export function capturingLogger(): GatewayLogger & { readonly records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (message: string, ...extra: Array<Record<string, unknown>>) =>
    void records.push({ level, message, fields: Object.assign({}, ...extra) as Record<string, unknown> });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger for tests that do not read logs. */
export const silentLogger: GatewayLogger = capturingLogger();
