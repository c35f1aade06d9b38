// The Node engine of the crypto interface (see provider.ts): node:crypto.
import * as nodeCrypto from 'node:crypto';
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

export const engine: CryptoProvider['engine'] = 'node:crypto';

// RFC 8410 DER prefixes that wrap a raw Ed25519 key for OpenSSL.
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

// `crypto.hash` (Node >= 20.12) skips the Hash object: several times faster
// for Merkle-node-sized inputs. Fallback for older 20.x.
const oneShot: ((data: Uint8Array) => Uint8Array) | undefined =
  typeof nodeCrypto.hash === 'function'
    ? (data) => nodeCrypto.hash('sha256', data, 'buffer')
    : undefined;

export function sha256(data: Uint8Array): Uint8Array {
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
