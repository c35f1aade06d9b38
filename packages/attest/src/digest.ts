import { createHash } from 'node:crypto';

/** Lowercase hex SHA-256: the `sha256` value of an in-toto DigestSet. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
