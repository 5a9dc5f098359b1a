/** The invocation deadline: aborted the margin before the function's time limit, with a 504 request_timeout. */
import { describe, expect, it } from 'vitest';
import { RequestTimeoutError } from '../../lambda/core/errors.ts';
import { DEADLINE_MARGIN_MS, invocationDeadline } from '../../lambda/handlers/deadline.ts';

describe('invocationDeadline', () => {
  it('fires the margin before the remaining time, with a RequestTimeoutError', async () => {
    const started = Date.now();
    const deadline = invocationDeadline({ getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS + 60 });
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve, { once: true }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(deadline.signal.reason).toBeInstanceOf(RequestTimeoutError);
    expect((deadline.signal.reason as RequestTimeoutError).statusCode).toBe(504);
  });

  it('fires at once when less than the margin remains, and never once cleared', async () => {
    const late = invocationDeadline({ getRemainingTimeInMillis: () => 10 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(late.signal.aborted).toBe(true);
    const cleared = invocationDeadline({ getRemainingTimeInMillis: () => DEADLINE_MARGIN_MS + 20 });
    cleared.clear();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cleared.signal.aborted).toBe(false);
  });
});
