import { describe, expect, it } from 'vitest';
import { parseLookupBody, scanPlainLookupBody } from '../src/site/reputation.js';

const h = (c: string): string => c.repeat(64);
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** What the general JSON path answers, for comparison with the fast scan. */
function viaJson(text: string): unknown {
  return (JSON.parse(text) as { sha256: unknown }).sha256;
}

describe('lookup body parsing', () => {
  it('reads the plain shape without a JSON value, with any JSON whitespace, as JSON.parse would', () => {
    const hashes = [h('a'), h('0'), '0123456789abcdef'.repeat(4)];
    const texts = [
      JSON.stringify({ sha256: hashes }),
      JSON.stringify({ sha256: hashes }, null, 2),
      ` \t\r\n{ "sha256" :[ "${hashes[0]}" ,\n"${hashes[1]}","${hashes[2]}" ] } \n`,
      '{"sha256":[]}',
      '{ "sha256" : [ ] }',
    ];
    for (const text of texts) {
      expect(scanPlainLookupBody(bytes(text))).toEqual(viaJson(text));
      expect(parseLookupBody(bytes(text))).toEqual(viaJson(text));
    }
  });

  it('leaves everything else to the general parser', () => {
    const others = [
      `{"sha256":["${h('A')}"]}`, // uppercase
      `{"sha256":["${h('a').slice(1)}"]}`, // 63 digits
      `{"sha256":["${h('a')}0"]}`, // 65 digits
      `{"sha256":["${h('g')}"]}`,
      `{"sha\\u0032256":["${h('a')}"]}`, // an escape in the key
      `{"sha256":["\\u0061${h('a').slice(1)}"]}`, // an escape in a hash
      `{"sha256":["${h('a')}"],"x":1}`,
      `{"x":1,"sha256":["${h('a')}"]}`,
      `{"sha256":["${h('a')}",]}`,
      `{"sha256":["${h('a')}"]}x`,
      `{"sha256":["${h('a')}"]`,
      `{"sha256":[1]}`,
      `{"sha256":"${h('a')}"}`,
      `{"sha256":[["${h('a')}"]]}`,
      '',
      '{',
      '\u00a0{"sha256":[]}', // not JSON whitespace
    ];
    for (const text of others) expect(scanPlainLookupBody(bytes(text))).toBeUndefined();
    expect(
      scanPlainLookupBody(
        bytes(JSON.stringify({ sha256: Array.from({ length: 10_001 }, () => h('a')) })),
      ),
    ).toBeUndefined();
  });

  it('keeps the coded errors of the general parser', () => {
    const code = (text: string): unknown => {
      try {
        parseLookupBody(bytes(text));
        return 'parsed';
      } catch (err) {
        return [(err as { code: string }).code, (err as { evidence?: unknown }).evidence];
      }
    };
    expect(code(`{"sha256":["${h('a')}","${h('A')}"]}`)).toEqual([
      'HASH_INVALID',
      { position: 1, value: h('A') },
    ]);
    expect(code(JSON.stringify({ sha256: Array.from({ length: 10_001 }, () => h('a')) }))).toEqual([
      'TOO_MANY_HASHES',
      { hashes: 10_001 },
    ]);
    expect(code(`{"sha256":["${h('a')}"],"x":1}`)).toEqual(['BAD_REQUEST', undefined]);
    expect(code('{"sha256":[')).toEqual(['BAD_REQUEST', undefined]);
    expect(code(`{"sha\\u0032256":["${h('a')}"]}`)).toEqual(['BAD_REQUEST', undefined]);
    expect(code(`{"sha256":["\\u0061${h('a').slice(1)}"]}`)).toBe('parsed');
    const invalidUtf8 = new Uint8Array([...bytes('{"sha256":["'), 0xff, ...bytes('"]}')]);
    expect(() => parseLookupBody(invalidUtf8)).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST' }),
    );
  });
});
