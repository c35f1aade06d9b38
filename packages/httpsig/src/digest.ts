/**
 * Content-Digest (RFC 9530 §2): the digest of the message content, so that a
 * signature covering the `content-digest` field covers the body.
 */
import { type Hash, createHash, timingSafeEqual } from 'node:crypto';
import { HttpSigError } from './errors.js';
import { parseDictionary, serializeDictionary } from './structured.js';

/** RFC 9530 §5 (the Hash Algorithms registry): the "Active" algorithms we compute. */
const ALGORITHMS = { 'sha-256': 'sha256', 'sha-512': 'sha512' } as const;
type DigestAlgorithm = keyof typeof ALGORITHMS;

/** The Content-Digest field value for `body`: `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array, algorithm: DigestAlgorithm = 'sha-256'): string {
  return digestField(algorithm, createHash(ALGORITHMS[algorithm]).update(body).digest());
}

/** The Content-Digest field value for a body whose SHA-256 is `sha256`. */
export function sha256Field(sha256: Uint8Array): string {
  if (sha256.length !== 32)
    throw new HttpSigError('AUTH_DIGEST_MALFORMED', 'a SHA-256 is 32 bytes');
  return digestField('sha-256', sha256);
}

function digestField(algorithm: DigestAlgorithm, digest: Uint8Array): string {
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
  digests: Readonly<Partial<Record<DigestAlgorithm, Uint8Array>>>,
): void {
  const claimed = parseContentDigest(field);
  const known = Object.keys(claimed) as DigestAlgorithm[];
  if (known.length === 0) {
    throw new HttpSigError('AUTH_DIGEST_MALFORMED', 'Content-Digest names no sha-256 or sha-512');
  }
  for (const algorithm of known) {
    const want = digests[algorithm];
    const got = claimed[algorithm];
    if (
      got === undefined ||
      want === undefined ||
      got.length !== want.length ||
      !timingSafeEqual(got, want)
    ) {
      throw new HttpSigError('AUTH_DIGEST_MISMATCH', `the body does not match its ${algorithm}`);
    }
  }
}

/**
 * Digests of a body fed in chunks, for the algorithms given (default both
 * known ones). A server that has the field first hashes only what it names.
 */
export class BodyDigester {
  readonly #hashes: (readonly [DigestAlgorithm, Hash])[];
  bytes = 0;

  constructor(algorithms: readonly DigestAlgorithm[] = ['sha-256', 'sha-512']) {
    this.#hashes = algorithms.map((a) => [a, createHash(ALGORITHMS[a])] as const);
  }

  update(chunk: Uint8Array): void {
    for (const [, hash] of this.#hashes) hash.update(chunk);
    this.bytes += chunk.length;
  }

  digests(): Partial<Record<DigestAlgorithm, Uint8Array>> {
    return Object.fromEntries(this.#hashes.map(([a, hash]) => [a, hash.digest()]));
  }
}

/** The known algorithms a Content-Digest field names (RFC 9530 §2: others are ignored). */
export function claimedAlgorithms(field: string): DigestAlgorithm[] {
  return Object.keys(parseContentDigest(field)) as DigestAlgorithm[];
}
