// The encodings agree with Node's Buffer (the reference here) on every input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareBytes,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
  utf8,
  utf8Length,
} from '../src/encoding.js';

describe('encodings', () => {
  it('base64 and hex agree with Buffer on random bytes, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(toBase64(bytes)).toBe(b.toString('base64'));
        expect(toHex(bytes)).toBe(b.toString('hex'));
        expect(fromBase64(b.toString('base64'))).toEqual(bytes);
        expect(fromBase64(b.toString('base64url'))).toEqual(bytes);
        expect(fromHex(b.toString('hex').toUpperCase())).toEqual(bytes);
      }),
    );
  });

  it('RFC 4648 §10 test vectors', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(toBase64(utf8(plain))).toBe(encoded);
      expect(fromBase64(encoded)).toEqual(utf8(plain));
    }
  });

  it('refuses what is not base64 or hex', () => {
    for (const bad of ['Zm9v!', 'Z', 'Zm=9', 'Zm9vY', 'é==='])
      expect(fromBase64(bad)).toBeUndefined();
    for (const bad of ['0', 'zz', '0g']) expect(fromHex(bad)).toBeUndefined();
  });

  it('counts UTF-8 bytes as Buffer.byteLength does, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }), (s) => {
        expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
      }),
    );
    expect(utf8Length('a\ud800b')).toBe(Buffer.byteLength('a\ud800b', 'utf8'));
  });

  it('orders byte strings as memcmp does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        expect(Math.sign(compareBytes(a, b))).toBe(Math.sign(Buffer.compare(a, b)));
      }),
    );
  });
});
