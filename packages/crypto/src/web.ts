// The browser engine of the crypto interface (see provider.ts): @noble and
// this package's one-shot SHA-256, no Node built-ins or globals.
import { gcm } from '@noble/ciphers/aes.js';
import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha1 as nobleSha1 } from '@noble/hashes/legacy.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import { expectHkdfLength, expectLength, GCM_TAG_BYTES } from './checks.js';
import type { CryptoProvider, Sha256Hasher } from './provider.js';
import { sha256OneShot } from './sha256.js';

export type { CryptoProvider, Sha256Hasher } from './provider.js';
export {
  compareBytes,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
  utf8,
  utf8Length,
} from './encoding.js';

export const engine: CryptoProvider['engine'] = '@noble';

export function sha256(data: Uint8Array): Uint8Array {
  return sha256OneShot(data);
}

export function createSha256(): Sha256Hasher {
  const hash = nobleSha256.create();
  const hasher: Sha256Hasher = {
    update(data) {
      hash.update(data);
      return hasher;
    },
    digest: () => hash.digest(),
  };
  return hasher;
}

export function sha1(data: Uint8Array): Uint8Array {
  return nobleSha1(data);
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

export function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    // zip215: false = RFC 8032 / FIPS 186-5 rules (canonical encodings,
    // S < L), the rules OpenSSL applies on the Node side.
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

export function randomBytes(n: number): Uint8Array {
  return nobleRandomBytes(n);
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  expectLength(privateKey, [32], 'an X25519 private key');
  return nobleX25519.getPublicKey(privateKey);
}

export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  expectLength(privateKey, [32], 'an X25519 private key');
  expectLength(publicKey, [32], 'an X25519 public key');
  try {
    return nobleX25519.getSharedSecret(privateKey, publicKey);
  } catch {
    // @noble refuses the all-zero secret of a small-order point (RFC 7748 §6.1).
    return null;
  }
}

export function hkdfSha256Extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return extract(nobleSha256, ikm, salt);
}

export function hkdfSha256Expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  expectHkdfLength(length);
  return expand(nobleSha256, prk, info, length);
}

function gcmChecks(key: Uint8Array, nonce: Uint8Array): void {
  expectLength(key, [16, 32], 'an AES-GCM key');
  expectLength(nonce, [12], 'an AES-GCM nonce');
}

export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  gcmChecks(key, nonce);
  return gcm(key, nonce, aad).encrypt(plaintext);
}

export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  gcmChecks(key, nonce);
  if (sealed.length < GCM_TAG_BYTES) return null;
  try {
    return gcm(key, nonce, aad).decrypt(sealed);
  } catch {
    return null; // the tag does not verify
  }
}

// Compile-time check that this module implements the whole interface.
export const provider: CryptoProvider = {
  engine,
  sha256,
  createSha256,
  sha1,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  randomBytes,
  x25519PublicKey,
  x25519,
  hkdfSha256Extract,
  hkdfSha256Expand,
  aesGcmSeal,
  aesGcmOpen,
};
