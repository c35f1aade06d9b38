// The browser engine of the crypto interface (see provider.ts): @noble only,
// no Node built-ins or globals.
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js';
import type { CryptoProvider, Sha256Hasher } from './provider.js';

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
  return nobleSha256(data);
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

// Compile-time check that this module implements the whole interface.
export const provider: CryptoProvider = {
  engine,
  sha256,
  createSha256,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  randomBytes,
};
