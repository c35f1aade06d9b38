import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { RateLimiter, ReplayCache } from '../src/index.js';

describe('ReplayCache', () => {
  it('refuses a nonce seen while it is live and forgets it after', () => {
    const cache = new ReplayCache();
    cache.record('k', 'n1', 160, 100);
    expect(
      codeOf(() => {
        cache.record('k', 'n1', 160, 150);
      }),
    ).toBe('AUTH_SIGNATURE_REPLAYED');
    expect(
      codeOf(() => {
        cache.record('other', 'n1', 160, 150);
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        cache.record('k', 'n1', 220, 161);
      }),
    ).toBe('accepted');
  });

  it('stays bounded: expired nonces make room, live ones are never dropped', () => {
    const cache = new ReplayCache({ maxEntries: 2 });
    cache.record('k', 'a', 110, 100);
    cache.record('k', 'b', 200, 100);
    expect(
      codeOf(() => {
        cache.record('k', 'c', 200, 105);
      }),
    ).toBe('AUTH_REPLAY_CACHE_FULL');
    expect(
      codeOf(() => {
        cache.record('k', 'c', 200, 111);
      }),
    ).toBe('accepted');
    expect(cache.size).toBe(2);
    expect(
      codeOf(() => {
        cache.record('k', 'b', 200, 111);
      }),
    ).toBe('AUTH_SIGNATURE_REPLAYED');
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then refuses with a Retry-After, then refills', () => {
    const limiter = new RateLimiter({ burst: 3, perSecond: 0.5 });
    for (let i = 0; i < 3; i++) expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('a', 0)).toEqual({ allowed: false, retryAfterSeconds: 2 });
    expect(limiter.take('b', 0).allowed).toBe(true);
    expect(limiter.take('a', 2000).allowed).toBe(true);
    expect(limiter.take('a', 2000).allowed).toBe(false);
  });

  it('tracks at most maxClients, least recently seen forgotten first', () => {
    const limiter = new RateLimiter({ burst: 1, perSecond: 0.001, maxClients: 2 });
    limiter.take('a', 0);
    limiter.take('b', 0);
    limiter.take('c', 0);
    expect(limiter.clients).toBe(2);
    expect(limiter.take('c', 0).allowed).toBe(false);
    expect(limiter.take('a', 0).allowed).toBe(true);
  });

  it('refuses nonsense settings', () => {
    expect(codeOf(() => new RateLimiter({ burst: 0, perSecond: 1 }))).toBe('AUTH_OPTION_INVALID');
    expect(codeOf(() => new RateLimiter({ burst: 1, perSecond: 0 }))).toBe('AUTH_OPTION_INVALID');
  });
});
