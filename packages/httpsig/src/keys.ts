/**
 * Ed25519 keys as node:crypto KeyObjects, and the key id callers are known
 * by: the RFC 7638 JWK thumbprint of the public key (RFC 8037 §2 names the
 * members of an OKP key: crv, kty, x).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { HttpSigError } from './errors.js';

// RFC 8410 §7: PKCS #8 wrapping of a 32-byte Ed25519 seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** A public key from its 32 raw bytes (RFC 8032 §5.1.5 encoding). */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new HttpSigError('AUTH_KEY_INVALID', 'an Ed25519 key is 32 bytes');
  try {
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
      format: 'jwk',
    });
  } catch (cause) {
    throw new HttpSigError('AUTH_KEY_INVALID', 'not an Ed25519 public key', { cause });
  }
}

/** A private key from its 32-byte seed (RFC 8032 §5.1.5). */
export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new HttpSigError('AUTH_KEY_INVALID', 'an Ed25519 seed is 32 bytes');
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** The 32 raw bytes of an Ed25519 public (or private) key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') {
    throw new HttpSigError('AUTH_KEY_INVALID', 'the key is not an Ed25519 key');
  }
  const { x } = pub.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new HttpSigError('AUTH_KEY_INVALID', 'the key has no x');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/** RFC 7638 §3: base64url SHA-256 of `{"crv":"Ed25519","kty":"OKP","x":"…"}`. */
export function jwkThumbprint(key: KeyObject | Uint8Array): string {
  const raw = key instanceof Uint8Array ? key : rawPublicKey(key);
  if (raw.length !== 32) throw new HttpSigError('AUTH_KEY_INVALID', 'an Ed25519 key is 32 bytes');
  // RFC 7638 §3.3: required members only, lexicographic order, no whitespace.
  const json = `{"crv":"Ed25519","kty":"OKP","x":"${Buffer.from(raw).toString('base64url')}"}`;
  return createHash('sha256').update(json, 'utf8').digest('base64url');
}
