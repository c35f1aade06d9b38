/**
 * Public keys as the roles hand them to each other: the in-toto view
 * (PEM, key id, securesystemslib key dict) and the TUF key id.
 */
import {
  encodeCanonical,
  keyDictWithIdFor,
  publicKeyToPem,
  sha256Hex,
  type KeyDictWithId,
  type PublicKey,
} from '@glasshouse/attest';

/** A public key as the API hands it out. */
export interface PublicKeyInfo {
  readonly keyid: string;
  readonly publicKeyPem: string;
  /** securesystemslib key dict (for legacy in-toto layouts). */
  readonly keyDict: KeyDictWithId;
}

/** The public key as the API and identities hand it out. */
export function publicKeyInfo(key: PublicKey): PublicKeyInfo {
  return { keyid: key.keyid, publicKeyPem: publicKeyToPem(key), keyDict: keyDictWithIdFor(key) };
}

/** A TUF public key object (TUF 4.2). */
export interface TufPublicKey {
  keytype: 'ed25519';
  scheme: 'ed25519';
  keyval: { public: string };
}

/** TUF 4.2 KEYID: hex SHA-256 of the canonical JSON of {keytype, scheme, keyval}. */
export function tufKeyId(key: TufPublicKey): string {
  const object = {
    keytype: key.keytype,
    scheme: key.scheme,
    keyval: { public: key.keyval.public },
  };
  return sha256Hex(encodeCanonical(object));
}
