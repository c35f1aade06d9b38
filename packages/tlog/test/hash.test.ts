import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HASH_SIZE, emptyRoot, hashChildren, hashLeaf, sha256 } from '../src/hash.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ref = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('RFC 9162 §2.1.1 hashing', () => {
  it('hashes the empty tree to SHA-256("")', () => {
    expect(hex(emptyRoot())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('prefixes leaves with 0x00 (empty leaf as in the RFC 6962 vectors)', () => {
    expect(hex(hashLeaf(new Uint8Array(0)))).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (entry) => {
        expect(hex(hashLeaf(entry))).toBe(ref(Uint8Array.of(0), entry));
      }),
    );
  });

  it('prefixes interior nodes with 0x01 and returns a fresh array each time', () => {
    const bytes = fc.uint8Array({ minLength: HASH_SIZE, maxLength: HASH_SIZE });
    fc.assert(
      fc.property(bytes, bytes, (l, r) => {
        const a = hashChildren(l, r);
        const b = hashChildren(r, l);
        expect(hex(a)).toBe(ref(Uint8Array.of(1), l, r));
        expect(hex(b)).toBe(ref(Uint8Array.of(1), r, l));
        expect(a).not.toBe(b);
      }),
    );
  });

  it('computes plain SHA-256', () => {
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
