import { describe, expect, it } from 'vitest';
import { addRateLimitHeaders, formatReset } from '../../lambda/core/rate-limit-headers.ts';

describe('rate-limit headers', () => {
  it('formats resets as OpenAI does', () => {
    expect(formatReset(120)).toBe('120ms');
    expect(formatReset(1000)).toBe('1s');
    expect(formatReset(59_001)).toBe('1m0s');
    expect(formatReset(6 * 60_000)).toBe('6m0s');
    expect(formatReset(3_723_000)).toBe('1h2m3s');
  });

  it('adds only the figures present, to the headers given', () => {
    const headers = { 'x-request-id': 'r1' };
    expect(addRateLimitHeaders(headers, { limitRequests: 50, remainingRequests: -1, resetRequestsMs: 500 })).toBe(headers);
    expect(headers).toEqual({
      'x-request-id': 'r1',
      'x-ratelimit-limit-requests': '50',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '500ms',
    });
    expect(addRateLimitHeaders({}, undefined)).toEqual({});
  });
});
