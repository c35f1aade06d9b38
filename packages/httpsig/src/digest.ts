/**
 * Content-Digest (RFC 9530 §2): the digest of the message content, so that a
 * signature covering the `content-digest` field covers the body.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpSigError } from './errors.js';
import { parseDictionary, serializeDictionary } from './structured.js';

/** RFC 9530 §5 (the Hash Algorithms registry): the "Active" algorithms we compute. */
const ALGORITHMS = { 'sha-256': 'sha256', 'sha-512': 'sha512' } as const;
type DigestAlgorithm = keyof typeof ALGORITHMS;

/** The Content-Digest field value for `body`: `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array, algorithm: DigestAlgorithm = 'sha-256'): string {
  const digest = createHash(ALGORITHMS[algorithm]).update(body).digest();
  return serializeDictionary([
    [algorithm, { kind: 'item', value: { type: 'bytes', value: digest }, params: [] }],
  ]);
}

/** The digests a Content-Digest field carries for the algorithms we know. */
export function parseContentDigest(field: string): Partial<Record<DigestAlgorithm, Uint8Array>> {
  let dict;
  try {
    dict = parseDictionary(field, { maxBytes: 1024, maxMembers: 8 });
  } catch (cause) {
    throw new HttpSigError('AUTH_DIGEST_MALFORMED', 'Content-Digest is not a dictionary', {
      cause,
    });
  }
  const out: Partial<Record<DigestAlgorithm, Uint8Array>> = {};
  for (const [key, member] of dict) {
    // RFC 9530 §2: a recipient ignores algorithms it does not know.
    if (key !== 'sha-256' && key !== 'sha-512') continue;
    // RFC 9530 §2: each member value is a Byte Sequence.
    if (member.kind !== 'item' || member.value.type !== 'bytes') {
      throw new HttpSigError('AUTH_DIGEST_MALFORMED', `Content-Digest ${key} is not bytes`);
    }
    out[key] = member.value.value;
  }
  return out;
}

/**
 * Checks a Content-Digest field against digests of the received body. Every
 * known algorithm in the field must match; at least one must be present.
 */
export function verifyContentDigest(
  field: string,
  digests: Readonly<Record<DigestAlgorithm, Uint8Array>>,
): void {
  const claimed = parseContentDigest(field);
  const known = Object.keys(claimed) as DigestAlgorithm[];
  if (known.length === 0) {
    throw new HttpSigError('AUTH_DIGEST_MALFORMED', 'Content-Digest names no sha-256 or sha-512');
  }
  for (const algorithm of known) {
    const want = digests[algorithm];
    const got = claimed[algorithm];
    if (got === undefined || got.length !== want.length || !timingSafeEqual(got, want)) {
      throw new HttpSigError('AUTH_DIGEST_MISMATCH', `the body does not match its ${algorithm}`);
    }
  }
}

/** Digests of a body fed in chunks (the server hashes as it reads). */
export class BodyDigester {
  readonly #sha256 = createHash('sha256');
  readonly #sha512 = createHash('sha512');
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.#sha256.update(chunk);
    this.#sha512.update(chunk);
    this.bytes += chunk.length;
  }

  digests(): Record<DigestAlgorithm, Uint8Array> {
    return { 'sha-256': this.#sha256.digest(), 'sha-512': this.#sha512.digest() };
  }
}
