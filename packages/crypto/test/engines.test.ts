// Both engines of the crypto interface must give the same answers: the
// browser verifies what the servers signed and hashed.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as node from '../src/node.js';
import * as web from '../src/web.js';
import { browserBundle, expectNoNodeOnly } from './browser.js';

// The type check that web.ts offers exactly node.ts's exports: a browser
// bundle gets web.ts where the types say node.ts.
export const sameShape: Omit<typeof node, 'engine' | 'provider'> = web;

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// RFC 8032 §7.1, TEST 1..3 (Ed25519).
const RFC8032 = [
  {
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

// RFC 8032 §5.1: the group order L.
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function addToS(signature: Uint8Array, n: bigint): Uint8Array {
  // S is the second half, little-endian (RFC 8032 §5.1.6 step 6).
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i] ?? 0);
  s += n;
  const out = signature.slice();
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

describe.each([
  ['node:crypto', node],
  ['@noble', web],
] as const)('crypto engine %s', (engine, impl) => {
  it('names itself', () => {
    expect(impl.engine).toBe(engine);
    expect(impl.provider.engine).toBe(engine);
  });

  it('SHA-256: FIPS 180-2 appendix B vectors, one-shot and incremental', () => {
    expect(toHex(impl.sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(toHex(impl.sha256(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const two = new TextEncoder().encode(
      'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    );
    const hasher = impl.createSha256();
    hasher.update(two.subarray(0, 7)).update(two.subarray(7));
    expect(toHex(hasher.digest())).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it.each(RFC8032.map((v, i) => [i + 1, v] as const))(
    'Ed25519: RFC 8032 §7.1 TEST %i (public key, signature, verification)',
    (_n, v) => {
      expect(toHex(impl.ed25519PublicKey(hex(v.seed)))).toBe(v.publicKey);
      expect(toHex(impl.ed25519Sign(hex(v.seed), hex(v.message)))).toBe(v.signature);
      expect(impl.ed25519Verify(hex(v.publicKey), hex(v.message), hex(v.signature))).toBe(true);
    },
  );

  it('Ed25519 refuses, without throwing: another message, a flipped bit, S + L, bad sizes, a key off the curve', () => {
    const v = RFC8032[1]!;
    const key = hex(v.publicKey);
    const sig = hex(v.signature);
    expect(impl.ed25519Verify(key, hex('73'), sig)).toBe(false);
    const flipped = sig.slice();
    flipped[10]! ^= 1;
    expect(impl.ed25519Verify(key, hex(v.message), flipped)).toBe(false);
    // RFC 8032 §5.1.7 step 1: S must be below L (no malleability).
    expect(impl.ed25519Verify(key, hex(v.message), addToS(sig, L))).toBe(false);
    expect(impl.ed25519Verify(key, hex(v.message), sig.subarray(0, 63))).toBe(false);
    expect(impl.ed25519Verify(key.subarray(0, 31), hex(v.message), sig)).toBe(false);
    // y = 2 is not the y-coordinate of a curve point: decoding fails (§5.1.3).
    const offCurve = new Uint8Array(32);
    offCurve[0] = 2;
    expect(impl.ed25519Verify(offCurve, hex(v.message), sig)).toBe(false);
  });

  it('random bytes: the size asked, not all equal', () => {
    const a = impl.randomBytes(32);
    expect(a.length).toBe(32);
    expect(toHex(a)).not.toBe(toHex(impl.randomBytes(32)));
  });
});

describe('the browser engine', () => {
  const src = join(import.meta.dirname, '..', 'src');

  it('has no node: imports, Buffer or process', () => {
    expectNoNodeOnly(src, ['web.ts', 'provider.ts', 'encoding.ts']);
  });

  it('is what a browser bundle of the package gets (export condition "browser")', async () => {
    const { text } = await browserBundle({
      contents: "export * from '@glasshouse/crypto';",
      resolveDir: src,
    });
    expect(text).toContain('@noble');
  });
});
