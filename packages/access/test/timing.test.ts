import { describe, expect, it } from 'vitest';
import { parseServerTiming, serverTiming } from '../src/index.js';

describe('Server-Timing of an access (W3C Server Timing)', () => {
  it('lists the phases in order with dur in milliseconds, and reads back what it wrote', () => {
    const value = serverTiming({ total: 30.456, log: 20, policy: 0.1234 });
    expect(value).toBe('policy;dur=0.12, log;dur=20.00, total;dur=30.46');
    expect(parseServerTiming(value)).toEqual({ policy: 0.12, log: 20, total: 30.46 });
  });

  it('reads a header written by others: params in any order, unknown names and bad values skipped', () => {
    expect(
      parseServerTiming('cache;desc="hit", store;desc="db";dur=1.5, log;dur=abc, total; dur=3'),
    ).toEqual({ store: 1.5, total: 3 });
    expect(parseServerTiming(null)).toEqual({});
  });
});
