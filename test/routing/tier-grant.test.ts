import { describe, expect, it } from 'vitest';
import { grantTier, normaliseTier } from '../../lambda/routing/tier-grant.ts';

describe('tiers', () => {
  it('normalises the client value', () => {
    expect(normaliseTier(undefined)).toBe('auto');
    expect(normaliseTier(null)).toBe('auto');
    expect(normaliseTier('auto')).toBe('auto');
    expect(normaliseTier('fast')).toBe('priority');
    expect(normaliseTier('flex')).toBe('flex');
  });

  it('grants the tier asked when entitled', () => {
    expect(grantTier('priority', ['priority', 'default'])).toBe('priority');
    expect(grantTier('flex', ['priority', 'flex'])).toBe('flex');
  });

  it('downgrades to the best entitled tier below the one asked', () => {
    expect(grantTier('priority', ['default', 'flex'])).toBe('default');
    expect(grantTier('priority', ['flex'])).toBe('flex');
    expect(grantTier('default', ['flex', 'priority'])).toBe('flex');
  });

  it('serves the closest tier above when none is below', () => {
    expect(grantTier('flex', ['priority', 'default'])).toBe('default');
  });

  it('maps auto to default, or the best tier the tenant has', () => {
    expect(grantTier('auto', ['priority', 'default'])).toBe('default');
    expect(grantTier('auto', ['priority', 'flex'])).toBe('priority');
  });

  it('grants nothing to a tenant without tiers', () => {
    expect(grantTier('priority', [])).toBeUndefined();
  });
});
