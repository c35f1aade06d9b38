import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64DecodedLength } from '../src/bytes.js';
import { canonicalJson, fromBase64, pae, toBase64 } from '../src/index.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

describe('strict base64 (RFC 4648 §4)', () => {
  it('round-trips any bytes and agrees with the platform encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = toBase64(bytes);
        expect(encoded).toBe(btoa(String.fromCharCode(...bytes)));
        expect(fromBase64(encoded)).toEqual(bytes);
      }),
    );
  });

  it('refuses every other spelling: no padding, URL-safe, whitespace, non-zero unused bits (RFC 4648 §3.5)', () => {
    for (const bad of [
      'QQ',
      'QQ=',
      'Q===',
      '-_8=',
      '+/8 ',
      'QR==',
      'QUI=x',
      'QUJ=',
      '=QUI',
      'QU=I',
    ]) {
      expect(fromBase64(bad), bad).toBeUndefined();
    }
    expect(fromBase64('QQ==')).toEqual(new Uint8Array([0x41]));
    expect(fromBase64('')).toEqual(new Uint8Array());
  });
});

describe('DSSE PAE (secure-systems-lab/dsse protocol.md "Signature Definition")', () => {
  it('is "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes', () => {
    const out = pae('http://example.com/HelloWorld', new TextEncoder().encode('hello world'));
    expect(text(out)).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    // LEN counts UTF-8 bytes, not characters.
    expect(text(pae('t', new TextEncoder().encode('é')))).toBe('DSSEv1 1 t 2 é');
    expect(text(pae('', new Uint8Array()))).toBe('DSSEv1 0  0 ');
  });
});

describe('canonicalJson', () => {
  it('keeps the builder key order and drops undefined properties', () => {
    expect(canonicalJson({ b: 1, a: 'x', c: undefined, d: [null, true] })).toBe(
      '{"b":1,"a":"x","d":[null,true]}',
    );
  });

  it('refuses numbers that writers could spell differently', () => {
    expect(() => canonicalJson({ n: 1.5 })).toThrow(TypeError);
    expect(() => canonicalJson({ n: 2 ** 60 })).toThrow(TypeError);
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
  });
});

describe('base64DecodedLength agrees with fromBase64', () => {
  it('on valid and invalid strings (property)', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ ';
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((b) => toBase64(b)),
      fc.string({ unit: fc.constantFrom(...Array.from(alphabet)), maxLength: 12 }),
    );
    fc.assert(
      fc.property(arb, (text) => {
        expect(base64DecodedLength(text)).toBe(fromBase64(text)?.length);
      }),
      { numRuns: 2000 },
    );
  });
});
