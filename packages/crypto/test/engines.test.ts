// Both engines of the crypto interface must give the same answers: the
// browser verifies what the servers signed and hashed.
import { createHash } from 'node:crypto';
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

// RFC 7748 §5.2 (the first X25519 vector) and §6.1 (Alice and Bob).
const RFC7748 = {
  scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
  u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
  out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  alice: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bob: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
};

// RFC 5869 appendix A, test cases 1 and 3 (SHA-256; case 3 has no salt and no info).
const RFC5869 = [
  {
    ikm: '0b'.repeat(22),
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    prk: '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    ikm: '0b'.repeat(22),
    salt: '',
    info: '',
    prk: '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
];

// The GCM specification's test cases 4 (AES-128) and 16 (AES-256): 60-byte plaintext, 20-byte aad.
const GCM_PLAINTEXT =
  'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39';
const GCM = [
  {
    key: 'feffe9928665731c6d6a8f9467308308',
    sealed:
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091' +
      '5bc94fbc3221a5db94fae95ae7121a47',
  },
  {
    key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
    sealed:
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
      '76fc6ece0f4e1768cddf8853bb2d551b',
  },
];
const GCM_NONCE = 'cafebabefacedbaddecaf888';
const GCM_AAD = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';

describe.each([
  ['node:crypto', node],
  ['@noble', web],
] as const)('crypto engine %s', (engine, impl) => {
  it('names itself', () => {
    expect(impl.engine).toBe(engine);
    expect(impl.provider.engine).toBe(engine);
  });

  it('SHA-1: FIPS 180-2 appendix A vectors and a git blob id', () => {
    expect(toHex(impl.sha1(new TextEncoder().encode('abc')))).toBe(
      'a9993e364706816aba3e25717850c26c9cd0d89d',
    );
    expect(toHex(impl.sha1(new Uint8Array(0)))).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    // `git hash-object` of an empty file: SHA-1 of "blob 0\0".
    expect(toHex(impl.sha1(new TextEncoder().encode('blob 0\0')))).toBe(
      'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391',
    );
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

  it('SHA-256 agrees with OpenSSL at every padding boundary (FIPS 180-4 §5.1.1) and on large inputs', () => {
    // Lengths 0..200 cross the one- and two-block tails (55/56, 119/120) and
    // full blocks; the large ones cross many blocks with a ragged end.
    const lengths = [...Array.from({ length: 201 }, (_, n) => n), 4095, 65_537, 1_000_003];
    for (const n of lengths) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      const expected = createHash('sha256').update(data).digest('hex');
      expect(toHex(impl.sha256(data)), `length ${n}`).toBe(expected);
      // A view into a larger buffer hashes only its own bytes.
      const padded = new Uint8Array(n + 8);
      padded.set(data, 3);
      expect(toHex(impl.sha256(padded.subarray(3, 3 + n))), `view of length ${n}`).toBe(expected);
    }
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

  it('X25519: RFC 7748 §5.2 and §6.1 vectors', () => {
    expect(toHex(impl.x25519(hex(RFC7748.scalar), hex(RFC7748.u))!)).toBe(RFC7748.out);
    expect(toHex(impl.x25519PublicKey(hex(RFC7748.alice)))).toBe(RFC7748.alicePublic);
    expect(toHex(impl.x25519PublicKey(hex(RFC7748.bob)))).toBe(RFC7748.bobPublic);
    // Asked again (node:crypto keeps it): the same key, and a caller's copy is its own.
    impl.x25519PublicKey(hex(RFC7748.alice)).fill(0);
    expect(toHex(impl.x25519PublicKey(hex(RFC7748.alice)))).toBe(RFC7748.alicePublic);
    expect(toHex(impl.x25519(hex(RFC7748.alice), hex(RFC7748.bobPublic))!)).toBe(RFC7748.shared);
    expect(toHex(impl.x25519(hex(RFC7748.bob), hex(RFC7748.alicePublic))!)).toBe(RFC7748.shared);
  });

  it('X25519 answers null for a small-order public key (all-zero secret, RFC 7748 §6.1) and throws on bad sizes', () => {
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(impl.x25519(hex(RFC7748.alice), new Uint8Array(32))).toBeNull();
    expect(impl.x25519(hex(RFC7748.alice), one)).toBeNull();
    expect(() => impl.x25519(hex(RFC7748.alice), new Uint8Array(31))).toThrow(RangeError);
    expect(() => impl.x25519PublicKey(new Uint8Array(33))).toThrow(RangeError);
  });

  it.each(RFC5869.map((v, i) => [i === 0 ? 1 : 3, v] as const))(
    'HKDF-SHA256: RFC 5869 test case %i',
    (_n, v) => {
      const prk = impl.hkdfSha256Extract(hex(v.salt), hex(v.ikm));
      expect(toHex(prk)).toBe(v.prk);
      expect(toHex(impl.hkdfSha256Expand(prk, hex(v.info), 42))).toBe(v.okm);
      expect(toHex(impl.hkdfSha256Expand(prk, hex(v.info), 0))).toBe('');
      expect(() => impl.hkdfSha256Expand(prk, hex(v.info), 255 * 32 + 1)).toThrow(RangeError);
    },
  );

  it.each(GCM.map((v) => [v.key.length * 4, v] as const))(
    'AES-%i-GCM: the GCM specification vector, sealed and opened',
    (_bits, v) => {
      const [key, nonce, aad] = [hex(v.key), hex(GCM_NONCE), hex(GCM_AAD)];
      expect(toHex(impl.aesGcmSeal(key, nonce, hex(GCM_PLAINTEXT), aad))).toBe(v.sealed);
      expect(toHex(impl.aesGcmOpen(key, nonce, hex(v.sealed), aad)!)).toBe(GCM_PLAINTEXT);
    },
  );

  it('AES-GCM open answers null for a changed byte, another aad or a short input; throws on bad key or nonce sizes', () => {
    const v = GCM[1]!;
    const [key, nonce, aad] = [hex(v.key), hex(GCM_NONCE), hex(GCM_AAD)];
    const changed = hex(v.sealed);
    changed[3]! ^= 1;
    expect(impl.aesGcmOpen(key, nonce, changed, aad)).toBeNull();
    expect(impl.aesGcmOpen(key, nonce, hex(v.sealed), hex('00'))).toBeNull();
    expect(impl.aesGcmOpen(key, nonce, new Uint8Array(15), aad)).toBeNull();
    expect(() => impl.aesGcmSeal(new Uint8Array(24), nonce, new Uint8Array(1), aad)).toThrow(
      RangeError,
    );
    expect(() => impl.aesGcmOpen(key, new Uint8Array(16), hex(v.sealed), aad)).toThrow(RangeError);
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
    expectNoNodeOnly(src, ['web.ts', 'provider.ts', 'encoding.ts', 'checks.ts']);
  });

  it('is what a browser bundle of the package gets (export condition "browser")', async () => {
    const { text } = await browserBundle({
      contents: "export * from '@glasshouse/crypto';",
      resolveDir: src,
    });
    expect(text).toContain('@noble');
  });
});
