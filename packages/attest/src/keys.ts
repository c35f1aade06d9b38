/**
 * Ed25519 keys for attestations (RFC 8032), and how they are named.
 *
 * One key ID serves every format in this package: the securesystemslib key ID,
 * the lowercase hex SHA-256 of the canonical JSON of the public key dict
 *
 *   {"keyid_hash_algorithms":["sha256","sha512"],"keytype":"ed25519",
 *    "keyval":{"public":"<64 hex>"},"scheme":"ed25519"}
 *
 * (securesystemslib `keys._get_keyid` over `format_keyval_to_metadata(...,
 * private=False)`, which always writes those two hash algorithms). in-toto-spec
 * §4.2 says "SHA-256 hash of the canonical JSON form of the key, where the
 * private object key is excluded"; the implementation also hashes
 * `keyid_hash_algorithms`, and interoperating means doing the same. It is what
 * the legacy in-toto layout lists, names link files by (`<step>.<keyid[:8]>.link`)
 * and what in-toto-verify computes from a `--layout-keys` file. DSSE leaves
 * KEYID to the parties (DSSE protocol.md, "KEYID"); using the same value lets
 * one pinned key ID stand for a functionary in both worlds.
 */
import {
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  fromHex,
  randomBytes,
  toHex,
} from '@glasshouse/crypto';
import { encodeCanonical } from './canonical.js';
import { sha256Hex } from './digest.js';
import { AttestError } from './errors.js';
import { derAlgorithm, pemDecode, pemEncode } from './pem.js';

/** A public key that can check signatures; `keyid` as described above. */
export interface PublicKey {
  readonly keyid: string;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

/** A private key that signs; never serialised by accident (no enumerable seed). */
export interface SigningKey {
  readonly keyid: string;
  readonly publicKey: Uint8Array;
  /** The matching verifier. */
  readonly verifier: PublicKey;
  sign(message: Uint8Array): Uint8Array;
}

/**
 * securesystemslib's public key dict for ed25519, the on-disk format of a
 * `.pub` file that `in-toto-verify --key-types ed25519 --layout-keys` reads
 * (securesystemslib `interface.import_ed25519_publickey_from_file`).
 */
export interface KeyDict {
  keytype: 'ed25519';
  scheme: 'ed25519';
  keyid_hash_algorithms: string[];
  keyval: { public: string };
}

/** A key dict carrying its key ID, as the `keys` of a legacy layout hold them. */
export interface KeyDictWithId extends KeyDict {
  keyid: string;
}

export const ED25519_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

/** securesystemslib `settings.HASH_ALGORITHMS`: part of every key ID preimage. */
export const KEYID_HASH_ALGORITHMS: readonly string[] = ['sha256', 'sha512'];

// DER framing of raw Ed25519 keys (RFC 8410 §4 and §7): SPKI for public
// keys, PKCS#8 (v1, no attributes) for seeds. Anything else with the Ed25519
// OID is refused rather than half-parsed.
const SPKI_PREFIX = fromHex('302a300506032b6570032100') ?? new Uint8Array(0);
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420') ?? new Uint8Array(0);
const ED25519_OID = '1.3.101.112';
const HEX_64 = /^[0-9a-f]{64}$/;

/** A new Ed25519 signing key; random unless a 32-byte seed is given. */
export function generateSigningKey(seed: Uint8Array = randomBytes(ED25519_KEY_SIZE)): SigningKey {
  return signingKeyFromSeed(seed);
}

/** The signing key for a raw 32-byte Ed25519 seed (RFC 8032 §5.1.5). */
export function signingKeyFromSeed(seed: Uint8Array): SigningKey {
  if (seed.length !== ED25519_KEY_SIZE) {
    throw new AttestError('KEY_MALFORMED', 'an Ed25519 seed is 32 bytes', {
      evidence: { seedLength: seed.length },
    });
  }
  const secret = seed.slice();
  const verifier = publicKeyFromRaw(ed25519PublicKey(secret));
  const key: SigningKey = Object.freeze({
    keyid: verifier.keyid,
    publicKey: verifier.publicKey,
    verifier,
    sign: (message: Uint8Array) => ed25519Sign(secret, message),
  });
  SEEDS.set(key, secret);
  return key;
}

// Seeds stay out of the SigningKey value, so logging or serialising a
// SigningKey cannot leak one.
const SEEDS = new WeakMap<SigningKey, Uint8Array>();

/**
 * A signing key from a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, RFC 7468
 * §10) holding an Ed25519 seed in the RFC 8410 §7 form.
 */
export function signingKeyFromPem(pem: string): SigningKey {
  const der = pemDecode(pem, 'PRIVATE KEY');
  if (der === undefined) {
    throw new AttestError('KEY_MALFORMED', 'not a PKCS#8 PEM private key');
  }
  return signingKeyFromSeed(ed25519Body(der, PKCS8_PREFIX, 'pkcs8'));
}

/** The PKCS#8 PEM of a signing key: the one way to get its secret out. */
export function signingKeyToPem(key: SigningKey): string {
  const seed = SEEDS.get(key);
  if (seed === undefined) {
    throw new AttestError('KEY_MALFORMED', 'not a signing key made by this package');
  }
  return pemEncode(concat(PKCS8_PREFIX, seed), 'PRIVATE KEY');
}

/**
 * The 32 bytes after an RFC 8410 prefix. A key of another algorithm is
 * KEY_UNSUPPORTED_TYPE; an Ed25519 key in another framing, or bytes that
 * are not DER, KEY_MALFORMED.
 */
function ed25519Body(der: Uint8Array, prefix: Uint8Array, kind: 'spki' | 'pkcs8'): Uint8Array {
  const oid = derAlgorithm(der, kind);
  if (oid !== undefined && oid !== ED25519_OID) {
    throw new AttestError('KEY_UNSUPPORTED_TYPE', 'only Ed25519 keys are supported', {
      evidence: { algorithm: oid },
    });
  }
  const framed =
    der.length === prefix.length + ED25519_KEY_SIZE && prefix.every((b, i) => der[i] === b);
  if (oid === undefined || !framed) {
    throw new AttestError('KEY_MALFORMED', `not an RFC 8410 Ed25519 ${kind} key`);
  }
  return der.slice(prefix.length);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A public key from its raw 32 bytes. */
export function publicKeyFromRaw(raw: Uint8Array): PublicKey {
  if (raw.length !== ED25519_KEY_SIZE) {
    throw new AttestError('KEY_MALFORMED', 'an Ed25519 public key is 32 bytes', {
      evidence: { publicKeyLength: raw.length },
    });
  }
  const publicKey = raw.slice();
  return Object.freeze({
    keyid: computeKeyId(publicKey),
    publicKey,
    verify: (message: Uint8Array, signature: Uint8Array) =>
      // RFC 8032 §5.1.7; a wrong-sized signature or a key that is not a
      // curve point is simply invalid.
      signature.length === ED25519_SIGNATURE_SIZE && ed25519Verify(publicKey, message, signature),
  });
}

/** A public key from an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, RFC 7468 §13; RFC 8410 §4). */
export function publicKeyFromPem(pem: string): PublicKey {
  const der = pemDecode(pem, 'PUBLIC KEY');
  if (der === undefined) {
    throw new AttestError('KEY_MALFORMED', 'not an SPKI PEM public key');
  }
  return publicKeyFromRaw(ed25519Body(der, SPKI_PREFIX, 'spki'));
}

/** The SPKI PEM of a public key. */
export function publicKeyToPem(key: PublicKey): string {
  return pemEncode(concat(SPKI_PREFIX, key.publicKey), 'PUBLIC KEY');
}

/** securesystemslib's public key dict of a raw Ed25519 public key. */
export function keyDictFor(publicKey: Uint8Array): KeyDict {
  return {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyid_hash_algorithms: [...KEYID_HASH_ALGORITHMS],
    keyval: { public: toHex(publicKey) },
  };
}

/** The key dict with its `keyid`, as stored in a layout's `keys`. */
export function keyDictWithIdFor(key: PublicKey): KeyDictWithId {
  return { keyid: key.keyid, ...keyDictFor(key.publicKey) };
}

/**
 * securesystemslib `keys._get_keyid`: SHA-256 over the canonical JSON of
 * {keytype, scheme, keyid_hash_algorithms: ["sha256","sha512"], keyval: {public}}.
 * The private part, the `keyid` field and any other field are not hashed.
 */
export function computeKeyId(publicKey: Uint8Array): string {
  return sha256Hex(encodeCanonical(keyDictFor(publicKey)));
}

/**
 * The JSON text of an ed25519 `.pub` key file for
 * `in-toto-verify --key-types ed25519 --layout-keys FILE`
 * (securesystemslib writes `json.dumps(format_keyval_to_metadata(...))`).
 */
export function formatPublicKeyFile(key: PublicKey): string {
  return JSON.stringify(keyDictFor(key.publicKey));
}

/**
 * A public key from a securesystemslib key dict (a `.pub` file's JSON or an
 * entry of a layout's `keys`). Only ed25519 with scheme ed25519 is accepted;
 * a `keyid` field, when present, must be the one computed from the key, and
 * `keyval.private` may only be absent or empty (securesystemslib
 * PUBLIC_KEYVAL_SCHEMA).
 */
export function publicKeyFromKeyDict(value: unknown): PublicKey {
  if (!isRecord(value) || !isRecord(value.keyval)) {
    throw new AttestError('KEY_MALFORMED', 'a key dict is an object with keyval');
  }
  if (value.keytype !== 'ed25519' || value.scheme !== 'ed25519') {
    throw new AttestError('KEY_UNSUPPORTED_TYPE', 'only keytype and scheme ed25519 are supported', {
      evidence: { keytype: value.keytype, scheme: value.scheme },
    });
  }
  const hex = value.keyval.public;
  if (typeof hex !== 'string' || !HEX_64.test(hex)) {
    throw new AttestError('KEY_MALFORMED', 'keyval.public is 64 lowercase hex digits');
  }
  const priv = value.keyval.private;
  if (priv !== undefined && priv !== '') {
    throw new AttestError('KEY_MALFORMED', 'a public key dict must not carry a private key');
  }
  const algorithms = value.keyid_hash_algorithms;
  if (
    algorithms !== undefined &&
    (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === 'string'))
  ) {
    throw new AttestError('KEY_MALFORMED', 'keyid_hash_algorithms is a list of strings');
  }
  const key = publicKeyFromRaw(fromHex(hex) ?? new Uint8Array(0));
  if (value.keyid !== undefined && value.keyid !== key.keyid) {
    throw new AttestError('KEY_ID_MISMATCH', 'keyid is not the one computed from the key', {
      evidence: { keyid: value.keyid, computed: key.keyid },
    });
  }
  return key;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
