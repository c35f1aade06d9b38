/**
 * The one crypto interface of the project's pure packages. Two modules
 * implement it with the same exports: `node.ts` (node:crypto, OpenSSL) and
 * `web.ts` (@noble/hashes, @noble/curves). The package's `exports` picks
 * `web.js` under the bundler's `browser` condition and `node.js` elsewhere,
 * so pure code imports `@glasshouse/crypto` and never names an engine.
 *
 * Why two: measured (bench/run.ts), node:crypto is 1.4-2x faster for a
 * 65-byte SHA-256 (a Merkle node), 10x for 1 MiB, and 8-25x for an Ed25519
 * verification or an X25519 agreement; servers keep that speed, browsers
 * get a pure implementation with the same results (a test runs both on the
 * same vectors).
 */
export interface Sha256Hasher {
  update(data: Uint8Array): Sha256Hasher;
  digest(): Uint8Array;
}

export interface CryptoProvider {
  /** Which engine answers: shown by benchmarks and diagnostics. */
  readonly engine: 'node:crypto' | '@noble';
  /** SHA-256 (FIPS 180-4) of `data`. */
  sha256(data: Uint8Array): Uint8Array;
  /** An incremental SHA-256 for data that arrives in pieces. */
  createSha256(): Sha256Hasher;
  /**
   * SHA-1 (FIPS 180-4) of `data`: only to recompute git object ids (git's
   * SHA-1 object format), never as a security hash of its own.
   */
  sha1(data: Uint8Array): Uint8Array;
  /** The raw 32-byte Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5). */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  /** A 64-byte Ed25519 signature (RFC 8032 §5.1.6) by the key of `seed`. */
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  /**
   * RFC 8032 §5.1.7 verification; false (never a throw) for a key or
   * signature of the wrong size, a point that does not decode, or S >= L.
   */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** `n` bytes from the platform's CSPRNG. */
  randomBytes(n: number): Uint8Array;
  /** The raw 32-byte X25519 public key of a 32-byte private key (RFC 7748 §6.1). */
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /**
   * The 32-byte X25519 shared secret (RFC 7748 §6.1); null (never a throw)
   * when it is all zeros, i.e. the public key is of small order (§6.1 check).
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  /** HKDF-Extract with SHA-256 (RFC 5869 §2.2); an empty salt is 32 zero bytes. */
  hkdfSha256Extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array;
  /** HKDF-Expand with SHA-256 (RFC 5869 §2.3): `length` ≤ 8160 bytes of output keying material. */
  hkdfSha256Expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /**
   * AES-GCM (NIST SP 800-38D) encryption with a 16- or 32-byte key, a
   * 12-byte nonce and a 16-byte tag: ciphertext ‖ tag.
   */
  aesGcmSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array;
  /** AES-GCM decryption of ciphertext ‖ tag; null (never a throw) when the tag does not verify. */
  aesGcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | null;
}
