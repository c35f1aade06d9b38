import { describe, expect, it } from 'vitest';
import { canonicalString, encodeCanonical } from '../src/canonical.js';
import { codeOf } from '../../errors/test/codes.js';
import { listVectors, readVector } from './vectors.js';

interface CanonicalVector {
  description: string;
  value: unknown;
  canonical: string;
}

describe('canonical JSON (securesystemslib encode_canonical)', () => {
  // One file per case, produced by securesystemslib itself (testdata/README.md).
  for (const file of listVectors('canonical')) {
    it(`matches securesystemslib: ${file}`, () => {
      const v = readVector(`canonical/${file}`) as CanonicalVector;
      expect(canonicalString(v.value)).toBe(v.canonical);
      expect(Buffer.from(encodeCanonical(v.value)).equals(Buffer.from(v.canonical, 'utf8'))).toBe(
        true,
      );
    });
  }

  it('sorts keys by code point, not by UTF-16 unit', () => {
    // U+FFFF is one UTF-16 unit above the surrogates U+10000 is written with.
    expect(canonicalString({ '\u{10000}': 1, '\uffff': 2 })).toBe('{"\uffff":2,"\u{10000}":1}');
  });

  it('escapes only quote and backslash; control characters stay raw', () => {
    expect(canonicalString('a"b\\c\n\u0001')).toBe('"a\\"b\\\\c\n\u0001"');
  });

  it('writes unicode as UTF-8 bytes', () => {
    expect(Buffer.from(encodeCanonical('é')).toString('hex')).toBe('22c3a922');
  });

  it('encodes integers, bigints and negative zero as Python prints ints', () => {
    expect(canonicalString([1, -2, 12345678901234567890n, -0])).toBe(
      '[1,-2,12345678901234567890,0]',
    );
  });

  it('refuses floats, NaN, infinities and unsafe integers', () => {
    for (const n of [1.5, Number.NaN, Infinity, -Infinity, 2 ** 53]) {
      expect(codeOf(() => canonicalString({ n }))).toBe('CANONICAL_JSON_UNSUPPORTED');
    }
  });

  it('refuses undefined, functions, symbols, class instances, cycles, lone surrogates', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const bad: unknown[] = [
      undefined,
      { a: undefined },
      () => 1,
      Symbol('s'),
      new Date(0),
      new Uint8Array(1),
      cycle,
      '\ud800',
      { '\udc00': 1 },
    ];
    for (const value of bad) {
      expect(codeOf(() => canonicalString(value))).toBe('CANONICAL_JSON_UNSUPPORTED');
    }
  });

  it('allows a repeated (non-cyclic) reference', () => {
    const shared = { x: 1 };
    expect(canonicalString({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it('accepts objects without a prototype', () => {
    const o = Object.create(null) as Record<string, number>;
    o.b = 2;
    o.a = 1;
    expect(canonicalString(o)).toBe('{"a":1,"b":2}');
  });
});
