import { describe, expect, it } from 'vitest';
import type { GatewayLogger } from '../../lambda/core/logger.ts';
import { writesDebug } from '../../lambda/core/logger.ts';
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
