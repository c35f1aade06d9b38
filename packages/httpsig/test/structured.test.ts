import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { parseDictionary, serializeDictionary } from '../src/index.js';

describe('RFC 9651 dictionaries', () => {
  it('parses every bare item type with parameters and serialises them canonically', () => {
    const text =
      'a=1, b=-2.5;x, c="q\\"s\\\\", d=tok/en:x, e=:AQID:, f=?0, g, h=@1659578233, i=(1 "x";p=?0);q=1';
    const dict = parseDictionary(text);
    expect(dict.map(([k]) => k)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']);
    expect(serializeDictionary(dict)).toBe(
      'a=1, b=-2.5;x, c="q\\"s\\\\", d=tok/en:x, e=:AQID:, f=?0, g, h=@1659578233, i=(1 "x";p=?0);q=1',
    );
  });

  it('accepts OWS around commas and leading/trailing SP', () => {
    expect(serializeDictionary(parseDictionary('  a=1 ,\tb=2  '))).toBe('a=1, b=2');
  });

  it('keeps the first position of a duplicate key with the last value (§4.2.2)', () => {
    expect(serializeDictionary(parseDictionary('a=1, b=2, a=3'))).toBe('a=3, b=2');
  });

  it.each([
    ['an uppercase key', 'A=1'],
    ['a trailing comma', 'a=1,'],
    ['a missing separator', 'a=1 b=2'],
    ['an unterminated string', 'a="x'],
    ['a bad escape', 'a="\\n"'],
    ['a control character in a string', 'a="\u0001"'],
    ['non-canonical base64', 'a=:AQI:'],
    ['a bad byte-sequence character', 'a=:A*:'],
    ['an unclosed inner list', 'a=(1 2'],
    ['inner-list items without SP', 'a=(1"x")'],
    ['a 16-digit integer', 'a=1234567890123456'],
    ['four fractional digits', 'a=1.2345'],
    ['a decimal ending in a dot', 'a=1.'],
    ['a bad boolean', 'a=?2'],
    ['a decimal date', 'a=@1.5'],
    ['a display string (unsupported)', 'a=%"x"'],
    ['non-ASCII', 'a="é"'],
  ])('refuses %s', (_name, text) => {
    expect(codeOf(() => parseDictionary(text))).toBe('SF_MALFORMED');
  });

  it('refuses fields over the size limits', () => {
    expect(codeOf(() => parseDictionary(`a="${'x'.repeat(9000)}"`))).toBe('SF_TOO_LARGE');
    const many = Array.from({ length: 17 }, (_, i) => `k${i}=1`).join(', ');
    expect(codeOf(() => parseDictionary(many))).toBe('SF_TOO_LARGE');
    const items = `a=(${Array.from({ length: 33 }, () => '1').join(' ')})`;
    expect(codeOf(() => parseDictionary(items))).toBe('SF_TOO_LARGE');
    const params = `a=1${Array.from({ length: 17 }, (_, i) => `;p${i}`).join('')}`;
    expect(codeOf(() => parseDictionary(params))).toBe('SF_TOO_LARGE');
  });
});
