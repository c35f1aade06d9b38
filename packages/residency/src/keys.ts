/**
 * Keys and names derived from them: DSSE keyids, customer and device
 * pseudonyms, Ed25519 signing and verification (RFC 8032 through
 * @glasshouse/crypto: node:crypto on a server, @noble in a browser).
 */
import { ed25519PublicKey, ed25519Sign, ed25519Verify, randomBytes } from '@glasshouse/crypto';
import { fromBase64, sha256Hex, toBase64 } from './bytes.js';
import { ResidencyError } from './errors.js';

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** A customer pseudonym: `c-` + 32 hex. */
export const CUSTOMER_PSEUDONYM = /^c-[0-9a-f]{32}$/;
/** A device pseudonym: `d-` + 32 hex. */
export const DEVICE_PSEUDONYM = /^d-[0-9a-f]{32}$/;

function assertPublicKey(publicKey: Uint8Array, what: string): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new ResidencyError('KEY_INVALID', `${what} is not a raw 32-byte Ed25519 public key`);
  }
}

/** DSSE keyid of a party's key: lowercase hex SHA-256 of the raw 32-byte public key. */
export function keyId(publicKey: Uint8Array): string {
  assertPublicKey(publicKey, 'the key');
  return sha256Hex(publicKey);
}

/** `c-` + first 32 hex of SHA-256(raw public key): the only name of a customer in any log. */
export function customerPseudonym(customerKey: Uint8Array): string {
  assertPublicKey(customerKey, 'the customer key');
  return `c-${sha256Hex(customerKey).slice(0, 32)}`;
}

/** `d-` + first 32 hex of SHA-256(raw public key). A personal field: it travels only sealed. */
export function devicePseudonym(deviceKey: Uint8Array): string {
  assertPublicKey(deviceKey, 'the device key');
  return `d-${sha256Hex(deviceKey).slice(0, 32)}`;
}

/** Base64 (standard, padded) of a raw public key, as the formats carry it. */
export function encodePublicKey(publicKey: Uint8Array): string {
  assertPublicKey(publicKey, 'the key');
  return toBase64(publicKey);
}

/** Raw bytes of a base64 public key field, or KEY_INVALID. */
export function decodePublicKey(text: string): Uint8Array {
  const bytes = fromBase64(text);
  if (bytes?.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new ResidencyError('KEY_INVALID', 'not a base64 raw 32-byte Ed25519 public key');
  }
  return bytes;
}

/**
 * RFC 8032 §5.1.7 verification with the same rules on both engines (see
 * @glasshouse/crypto), so a browser and a server agree on every signature.
 * Never throws.
 */
export function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  return ed25519Verify(publicKey, message, signature);
}

/** An Ed25519 key pair from a 32-byte seed (RFC 8032 §5.1.5); for tests and tools. */
export interface Ed25519KeyPair {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function generateEd25519KeyPair(): Ed25519KeyPair {
  return ed25519KeyPairFromSeed(randomBytes(32));
}

export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== 32) throw new ResidencyError('KEY_INVALID', 'an Ed25519 seed is 32 bytes');
  return { seed, publicKey: ed25519PublicKey(seed) };
}

/** RFC 8032 §5.1.6 signature of `message` with the key of `seed`. */
export function signEd25519(seed: Uint8Array, message: Uint8Array): Uint8Array {
  if (seed.length !== 32) throw new ResidencyError('KEY_INVALID', 'an Ed25519 seed is 32 bytes');
  return ed25519Sign(seed, message);
}
