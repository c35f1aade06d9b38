import { sha256, toHex } from '@glasshouse/crypto';

/** Lowercase hex SHA-256: the `sha256` value of an in-toto DigestSet. */
export function sha256Hex(data: Uint8Array): string {
  return toHex(sha256(data));
}
