/**
 * Ed25519 keys for TUF metadata.
 *
 * A public key is the TUF KEY object (TUF 4.2, "ed25519" format)
 *
 *   {"keytype":"ed25519","scheme":"ed25519","keyval":{"public":"<64 hex>"}}
 *
 * and its key ID is the lowercase hex SHA-256 of that object's canonical JSON
 * (TUF 4.2 KEYID: "a hexdigest of the SHA-256 hash of the canonical form of
 * the key"). This is what python-tuf computes (securesystemslib
 * `compute_default_keyid` hashes exactly {keytype, scheme, keyval}) and what
 * the key IDs of the specification's own examples are; tuf-js does not
 * recompute key IDs, it only looks keys up by them, so it accepts it too.
 * Note that `@glasshouse/attest` names the same key differently: the legacy
 * in-toto key ID also hashes `keyid_hash_algorithms`.
 *
 * Signatures are Ed25519 (RFC 8032) over the canonical JSON of the `signed`
 * object (TUF 4.2), hex-encoded. They are computed and checked through
 * `@tufjs/models` (`Metadata.sign`, `Key.verifySignature`), so the bytes
 * signed are exactly the bytes tuf-js verifies.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  Key,
  Metadata,
  Signature,
  type Root,
  type Snapshot,
  type Targets,
  type Timestamp,
} from '@tufjs/models';
import { writeNewFileDurably } from '@glasshouse/durable';
import { tufKeyId, type TufPublicKey } from '@glasshouse/release-format';
import { DistributionError } from './errors.js';
import { isPlainObject } from './json.js';

// The key id is the endpoint's vocabulary too; it is part of this module's API.
export { tufKeyId, type TufPublicKey };

/** One entry of a metadata file's `signatures` (TUF 4.2). */
export interface TufSignature {
  keyid: string;
  sig: string;
}

/** A private key that signs TUF metadata; the private part is not enumerable. */
export interface TufSigningKey {
  readonly keyid: string;
  readonly publicKey: TufPublicKey;
  /** Ed25519 signature of `message` (64 bytes). */
  sign(message: Uint8Array): Uint8Array;
}

/** Any of the four metadata kinds. */
export type AnyMetadata =
  Metadata<Root> | Metadata<Targets> | Metadata<Snapshot> | Metadata<Timestamp>;

const HEX_64 = /^[0-9a-f]{64}$/;
const HEX_128 = /^[0-9a-f]{128}$/;
// RFC 8410 SPKI framing of a raw Ed25519 public key.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_PEM_LENGTH = 4096;

// The KeyObject behind each signing key, for PEM export only.
const privateKeys = new WeakMap<TufSigningKey, KeyObject>();

/** A new random Ed25519 signing key. */
export function generateTufKey(): TufSigningKey {
  return signingKeyFrom(generateKeyPairSync('ed25519').privateKey);
}

/** The key as PEM PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
export function tufKeyToPem(key: TufSigningKey): string {
  const privateKey = privateKeys.get(key);
  if (privateKey === undefined) {
    throw new DistributionError('KEY_MALFORMED', 'not a signing key made by this module');
  }
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A signing key from PEM PKCS#8; only Ed25519 is accepted. */
export function tufKeyFromPem(pem: string): TufSigningKey {
  if (pem.length > MAX_PEM_LENGTH) {
    throw new DistributionError('KEY_MALFORMED', 'private key PEM is too long');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new DistributionError('KEY_MALFORMED', 'not a PEM private key', { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new DistributionError('KEY_MALFORMED', 'private key is not Ed25519', {
      evidence: { type: privateKey.asymmetricKeyType },
    });
  }
  return signingKeyFrom(privateKey);
}

/** Writes the key as PEM PKCS#8 to a new file, mode 0600; never overwrites. */
export async function saveTufKey(path: string, key: TufSigningKey): Promise<void> {
  await writeNewFileDurably(path, tufKeyToPem(key), 0o600);
}

/** Reads a key written by `saveTufKey`. */
export async function loadTufKey(path: string): Promise<TufSigningKey> {
  return tufKeyFromPem(await readFile(path, 'utf8'));
}

/**
 * A public key from outside bytes, strictly: exactly keytype "ed25519",
 * scheme "ed25519" and a 32-byte public key as 64 lowercase hex digits
 * (TUF 4.2 "ed25519" format), nothing else.
 */
export function parseTufPublicKey(value: unknown): TufPublicKey {
  if (!isPlainObject(value)) throw malformedKey('not an object');
  const keys = Object.keys(value).sort().join(',');
  if (keys !== 'keytype,keyval,scheme') throw malformedKey('unexpected fields', { fields: keys });
  if (value.keytype !== 'ed25519' || value.scheme !== 'ed25519') {
    throw malformedKey('only keytype and scheme "ed25519" are accepted', {
      keytype: value.keytype,
      scheme: value.scheme,
    });
  }
  const keyval = value.keyval;
  if (!isPlainObject(keyval) || Object.keys(keyval).join(',') !== 'public') {
    throw malformedKey('keyval must hold only "public"');
  }
  const hex = keyval.public;
  if (typeof hex !== 'string' || !HEX_64.test(hex)) {
    throw malformedKey('keyval.public must be 64 lowercase hex digits');
  }
  try {
    createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, Buffer.from(hex, 'hex')]),
      format: 'der',
      type: 'spki',
    });
  } catch (err) {
    throw new DistributionError('KEY_MALFORMED', 'not an Ed25519 public key', { cause: err });
  }
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: hex } };
}

/** The `@tufjs/models` Key for a public key, under its TUF key ID. */
export function tufModelKey(key: TufPublicKey): Key {
  return new Key({
    keyID: tufKeyId(key),
    keyType: key.keytype,
    scheme: key.scheme,
    keyVal: { public: key.keyval.public },
  });
}

/** A signature from outside bytes: {keyid: 64 hex, sig: 128 hex}, nothing else. */
export function parseTufSignature(value: unknown): TufSignature {
  if (!isPlainObject(value)) {
    throw new DistributionError('SIGNATURE_MALFORMED', 'signature is not an object');
  }
  const { keyid, sig } = value;
  if (Object.keys(value).length !== 2 || typeof keyid !== 'string' || typeof sig !== 'string') {
    throw new DistributionError('SIGNATURE_MALFORMED', 'signature must be exactly {keyid, sig}');
  }
  // TUF 4.2: KEYID is a SHA-256 hexdigest; an Ed25519 SIGNATURE is 64 bytes, hex-encoded.
  if (!HEX_64.test(keyid) || !HEX_128.test(sig)) {
    throw new DistributionError(
      'SIGNATURE_MALFORMED',
      'keyid must be 64 and sig 128 lowercase hex digits',
      {
        evidence: { keyid, sig },
      },
    );
  }
  return { keyid, sig };
}

/**
 * Signs `metadata` with `key` (replacing any earlier signature by that key)
 * and returns the signature. The signed bytes are `@tufjs/models`'s
 * canonical JSON of `metadata.signed`, as tuf-js verifies them.
 */
export function signMetadata(metadata: AnyMetadata, key: TufSigningKey): TufSignature {
  let made: TufSignature | undefined;
  metadata.sign((bytes) => {
    made = { keyid: key.keyid, sig: Buffer.from(key.sign(bytes)).toString('hex') };
    return new Signature({ keyID: made.keyid, sig: made.sig });
  });
  if (made === undefined) throw new Error('Metadata.sign did not call the signer');
  return made;
}

/**
 * True when `signature` is a valid signature by `key` over `metadata.signed`
 * (TUF 4.2), checked the way tuf-js checks it. The key ID must be the key's.
 */
export function verifyMetadataSignature(
  metadata: AnyMetadata,
  signature: TufSignature,
  key: TufPublicKey,
): boolean {
  const modelKey = tufModelKey(key);
  if (signature.keyid !== modelKey.keyID) return false;
  const probe = {
    signed: metadata.signed,
    signatures: {
      [signature.keyid]: new Signature({ keyID: signature.keyid, sig: signature.sig }),
    },
  };
  try {
    modelKey.verifySignature(probe);
    return true;
  } catch (err) {
    // Key.verifySignature reports every failed check as UnsignedMetadataError,
    // which @tufjs/models does not export; anything else is a real fault.
    if (err instanceof Error && err.constructor.name === 'UnsignedMetadataError') return false;
    throw err;
  }
}

function signingKeyFrom(privateKey: KeyObject): TufSigningKey {
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey: TufPublicKey = {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyval: { public: der.subarray(SPKI_PREFIX.length).toString('hex') },
  };
  const key: TufSigningKey = Object.freeze({
    keyid: tufKeyId(publicKey),
    publicKey,
    // RFC 8032 Ed25519: node:crypto takes no digest for it.
    sign: (message: Uint8Array) => new Uint8Array(cryptoSign(null, message, privateKey)),
  });
  privateKeys.set(key, privateKey);
  return key;
}

function malformedKey(reason: string, evidence?: Record<string, unknown>): DistributionError {
  return new DistributionError(
    'KEY_MALFORMED',
    `TUF public key: ${reason}`,
    evidence ? { evidence } : {},
  );
}
