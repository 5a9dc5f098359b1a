import { describe, expect, it } from 'vitest';
import { InsufficientQuotaError, RATE_LIMIT_TYPES, RateLimitError, RequestTooLargeError, TierOverloadedError, UpstreamError, InvalidRequestError } from '../../lambda/core/errors.ts';
import { BACKEND_ERROR_CLASSES, backendErrorClass, REFUSAL_REASONS, refusalReason } from '../../lambda/core/metric-labels.ts';

describe('refusal reasons', () => {
  it('names each refusal before a backend is called, and nothing else', () => {
    expect(refusalReason(new RateLimitError('full', 1000))).toBe('requests');
    expect(refusalReason(new RateLimitError('full', 1000, RATE_LIMIT_TYPES.tokens))).toBe('tokens');
    expect(refusalReason(new InsufficientQuotaError())).toBe('quota');
    expect(refusalReason(new RequestTooLargeError('never fits', RATE_LIMIT_TYPES.tokens))).toBe('too-large');
    expect(refusalReason(new TierOverloadedError('priority', 1000, 500, 150))).toBe('overload');
    expect(refusalReason(new InvalidRequestError('bad'))).toBeUndefined();
    expect(refusalReason(new UpstreamError('down', 502))).toBeUndefined();
    expect(REFUSAL_REASONS).toHaveLength(5);
  });
});

describe('backend error classes', () => {
  it('classes a failed call by what the backend did', () => {
    expect(backendErrorClass(new UpstreamError('The gpu backend timed out.', 504, true, 'gpu'))).toBe('timeout');
    expect(backendErrorClass(new UpstreamError('408', 504, true, 'gpu', 408))).toBe('timeout');
    expect(backendErrorClass(new UpstreamError('busy', 503, true, 'gpu', 429))).toBe('throttled');
    expect(backendErrorClass(new UpstreamError('unavailable', 503, true, 'gpu', 503))).toBe('throttled');
    expect(backendErrorClass(new UpstreamError('boom', 502, true, 'gpu', 500))).toBe('http-5xx');
    expect(backendErrorClass(new UpstreamError('refused', 502, false, 'gpu', 400))).toBe('http-4xx');
    expect(backendErrorClass(new UpstreamError('unreachable (ECONNREFUSED)', 502, true, 'gpu'))).toBe('connection');
    expect(backendErrorClass(new UpstreamError('not a JSON object', 502, false, 'gpu'))).toBe('bad-response');
    expect(BACKEND_ERROR_CLASSES).toHaveLength(6);
  });
});
