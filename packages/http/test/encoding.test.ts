import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../src/encoding.js';

describe('acceptsGzip', () => {
  it.each<[string | undefined, boolean]>([
    [undefined, false],
    ['', false],
    ['identity', false],
    ['gzip', true],
    ['br, GZIP', true],
    ['*', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['gzip;q=0.5', true],
    ['deflate, *;q=0', false],
  ])('%j → %s', (header, want) => {
    expect(acceptsGzip(header)).toBe(want);
  });
});
