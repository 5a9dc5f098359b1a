import { describe, expect, it, vi } from 'vitest';
import type { GatewayLogger } from '../../lambda/core/logger.ts';
import { stderrLogger, writesDebug } from '../../lambda/core/logger.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';

describe('writesDebug', () => {
  it("follows the logger's level, checked at most once a second", () => {
    let level = 'INFO';
    let checks = 0;
    const logger = { ...capturingLogger(), getLevelName: () => (checks++, level) } as GatewayLogger;
    expect(writesDebug(logger, 1_000)).toBe(false);
    level = 'DEBUG';
    expect(writesDebug(logger, 1_500)).toBe(false);
    expect(checks).toBe(1);
    expect(writesDebug(logger, 2_000)).toBe(true);
    level = 'TRACE';
    expect(writesDebug(logger, 3_000)).toBe(true);
    expect(checks).toBe(3);
  });

  it('assumes a logger that does not say its level writes everything (test captures)', () => {
    expect(writesDebug(capturingLogger())).toBe(true);
  });
});

describe('stderrLogger', () => {
  it('writes one JSON line per record: level, message and the fields', () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (lines.push(String(chunk)), true));
    try {
      stderrLogger.warn('endpoint refused the priority', { pool: 'decode', endpoint: 'http://127.0.0.1:1' });
      stderrLogger.error('flush failed', { count: 3 }, { attempt: 2 });
    } finally {
      write.mockRestore();
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { level: 'WARN', message: 'endpoint refused the priority', pool: 'decode', endpoint: 'http://127.0.0.1:1' },
      { level: 'ERROR', message: 'flush failed', count: 3, attempt: 2 },
    ]);
    expect(lines.every((l) => l.endsWith('}\n'))).toBe(true);
  });
});
