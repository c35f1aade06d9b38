// The Node engine of the crypto interface (see provider.ts): node:crypto.
import * as nodeCrypto from 'node:crypto';
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

export const engine: CryptoProvider['engine'] = 'node:crypto';

// RFC 8410 DER prefixes that wrap a raw Ed25519 key for OpenSSL.
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
// The same for an X25519 private key (RFC 8410: OID 1.3.101.110 instead of 1.3.101.112).
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

// `crypto.hash` (Node >= 20.12) skips the Hash object: several times faster
// for Merkle-node-sized inputs. Fallback for older 20.x.
const oneShot: ((data: Uint8Array) => Uint8Array) | undefined =
  typeof nodeCrypto.hash === 'function'
    ? (data) => nodeCrypto.hash('sha256', data, 'buffer')
    : undefined;

// Below two blocks the call into OpenSSL costs more than the hashing: this
// package's JavaScript one-shot is 1.4x faster for a 65-byte Merkle node
// (bench/run.ts), OpenSSL from three blocks up.
const SMALL_INPUT_BYTES = 119;

export function sha256(data: Uint8Array): Uint8Array {
  if (data.length <= SMALL_INPUT_BYTES) return sha256OneShot(data);
  if (oneShot !== undefined) return oneShot(data);
  return nodeCrypto.createHash('sha256').update(data).digest();
}

export function createSha256(): Sha256Hasher {
  const hash = nodeCrypto.createHash('sha256');
  const hasher: Sha256Hasher = {
    update(data) {
      hash.update(data);
      return hasher;
    },
    digest: () => new Uint8Array(hash.digest()),
  };
  return hasher;
}

export function sha1(data: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto.createHash('sha1').update(data).digest());
}

function der(prefix: Uint8Array, raw: Uint8Array): Buffer {
  const out = Buffer.alloc(prefix.length + raw.length);
  out.set(prefix, 0);
  out.set(raw, prefix.length);
  return out;
}

// Importing a key costs more than a verification; verifiers reuse few keys
// (a log's, a witness's), so keep the last ones. Bounded: oldest out first.
const KEY_CACHE_LIMIT = 1024;
const publicKeys = new Map<string, nodeCrypto.KeyObject>();
const privateKeys = new Map<string, nodeCrypto.KeyObject>();

function cached(
  cache: Map<string, nodeCrypto.KeyObject>,
  raw: Uint8Array,
  make: () => nodeCrypto.KeyObject,
): nodeCrypto.KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  let key = cache.get(id);
  if (key === undefined) {
    key = make();
    if (cache.size >= KEY_CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(id, key);
  }
  return key;
}

function privateKeyOf(seed: Uint8Array): nodeCrypto.KeyObject {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  return cached(privateKeys, seed, () =>
    nodeCrypto.createPrivateKey({ key: der(PKCS8_PREFIX, seed), format: 'der', type: 'pkcs8' }),
  );
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const spki = nodeCrypto
    .createPublicKey(privateKeyOf(seed))
    .export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto.sign(null, message, privateKeyOf(seed)));
}

export function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = cached(publicKeys, publicKey, () =>
      nodeCrypto.createPublicKey({ key: der(SPKI_PREFIX, publicKey), format: 'der', type: 'spki' }),
    );
    return nodeCrypto.verify(null, message, key, signature);
  } catch {
    // A 32-byte string that is not a point on the curve.
    return false;
  }
}

export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(nodeCrypto.randomBytes(n));
}

// X25519 private keys are few (a service's own key): cached like Ed25519 seeds. Public keys are
// mostly ephemeral (an HPKE enc), so they are not.
const x25519PrivateKeys = new Map<string, nodeCrypto.KeyObject>();

function x25519PrivateKeyOf(privateKey: Uint8Array): nodeCrypto.KeyObject {
  expectLength(privateKey, [32], 'an X25519 private key');
  return cached(x25519PrivateKeys, privateKey, () =>
    nodeCrypto.createPrivateKey({
      key: der(X25519_PKCS8_PREFIX, privateKey),
      format: 'der',
      type: 'pkcs8',
    }),
  );
}

// The public key of a cached private key (a key release derives it for every batch it opens:
// one scalar multiplication each time otherwise). Keyed by the cached KeyObject itself.
const x25519Publics = new WeakMap<nodeCrypto.KeyObject, Uint8Array>();

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  const key = x25519PrivateKeyOf(privateKey);
  let pub = x25519Publics.get(key);
  if (pub === undefined) {
    const spki = nodeCrypto.createPublicKey(key).export({ format: 'der', type: 'spki' });
    pub = new Uint8Array(spki.subarray(spki.length - 32));
    x25519Publics.set(key, pub);
  }
  return pub.slice();
}

export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  expectLength(publicKey, [32], 'an X25519 public key');
  const key = x25519PrivateKeyOf(privateKey);
  try {
    // A JWK (RFC 8037 §2) rather than SPKI DER: OpenSSL 3's DER decoder tries its decoders in
    // turn, about 20x the cost of the whole JWK import; the key and every refusal are the same.
    const pub = nodeCrypto.createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') },
      format: 'jwk',
    });
    return new Uint8Array(nodeCrypto.diffieHellman({ privateKey: key, publicKey: pub }));
  } catch {
    // OpenSSL refuses to derive the all-zero secret of a small-order point (RFC 7748 §6.1).
    return null;
  }
}

function hmacSha256(key: Uint8Array, ...data: Uint8Array[]): Buffer {
  const h = nodeCrypto.createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

export function hkdfSha256Extract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  // An empty HMAC key is padded with zeros, the same as RFC 5869's default salt of HashLen zeros.
  return new Uint8Array(hmacSha256(salt, ikm));
}

export function hkdfSha256Expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  expectHkdfLength(length);
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = hmacSha256(prk, t, info, Uint8Array.of(i));
    out.set(t.subarray(0, Math.min(t.length, length - at)), at);
    at += t.length;
  }
  return out;
}

function gcmName(key: Uint8Array, nonce: Uint8Array): 'aes-128-gcm' | 'aes-256-gcm' {
  expectLength(key, [16, 32], 'an AES-GCM key');
  expectLength(nonce, [12], 'an AES-GCM nonce');
  return key.length === 16 ? 'aes-128-gcm' : 'aes-256-gcm';
}

export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const cipher = nodeCrypto.createCipheriv(gcmName(key, nonce), key, nonce, {
    authTagLength: GCM_TAG_BYTES,
  });
  cipher.setAAD(aad);
  return new Uint8Array(
    Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]),
  );
}

export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  const name = gcmName(key, nonce);
  if (sealed.length < GCM_TAG_BYTES) return null;
  const split = sealed.length - GCM_TAG_BYTES;
  const decipher = nodeCrypto.createDecipheriv(name, key, nonce, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(split));
  try {
    return new Uint8Array(
      Buffer.concat([decipher.update(sealed.subarray(0, split)), decipher.final()]),
    );
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
