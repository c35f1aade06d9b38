/**
 * Field checks shared by the Statement and predicate validators. Internal:
 * each caller supplies `fail`, which throws its own codes, so a bad digest in
 * a Statement and one in a provenance predicate name their own layer.
 */
import { compareBytes, utf8 } from '@glasshouse/crypto';

/** Throws the caller's coded error for a missing or invalid field at `path`. */
export type Fail = (kind: 'missing' | 'invalid', path: string, reason: string) => never;

export type JsonObject = Record<string, unknown>;

/** Algorithm → digest length in hex digits; `0` means any even length. */
const DIGEST_HEX_LENGTHS: Readonly<Record<string, readonly number[]>> = {
  // in-toto attestation digest_set.md, "Supported algorithms": lowercase hex.
  sha256: [64],
  sha224: [56],
  sha384: [96],
  sha512: [128],
  sha512_224: [56],
  sha512_256: [64],
  sha3_224: [56],
  sha3_256: [64],
  sha3_384: [96],
  sha3_512: [128],
  shake128: [0],
  shake256: [0],
  blake2b: [0],
  blake2s: [0],
  ripemd160: [40],
  sm3: [64],
  gost: [0],
  sha1: [40],
  md5: [32],
  dirHash: [64],
  // digest_set.md: "lowercase hex SHA-1 (40 character) or SHA-256 (64 character)"
  gitCommit: [40, 64],
  gitTree: [40, 64],
  gitBlob: [40, 64],
  gitTag: [40, 64],
};

const LOWER_HEX = /^(?:[0-9a-f]{2})+$/;
// RFC 3986 §3.1 scheme, lowercase as "case normalized" (field_types.md).
const URI = /^[a-z][a-z0-9+.-]*:\S+$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "Unset, null, and empty field values MUST be interpreted equivalently" (SLSA parsing rules). */
export function isUnset(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

export function requireObject(value: unknown, path: string, fail: Fail): JsonObject {
  if (isUnset(value)) fail('missing', path, 'required');
  if (!isRecord(value)) fail('invalid', path, 'not an object');
  return value;
}

export function optionalObject(value: unknown, path: string, fail: Fail): JsonObject | undefined {
  return isUnset(value) ? undefined : requireObject(value, path, fail);
}

export function requireString(value: unknown, path: string, fail: Fail): string {
  if (isUnset(value) || value === '') fail('missing', path, 'required');
  if (typeof value !== 'string') fail('invalid', path, 'not a string');
  return value;
}

export function optionalString(value: unknown, path: string, fail: Fail): string | undefined {
  return isUnset(value) ? undefined : checkString(value, path, fail);
}

function checkString(value: unknown, path: string, fail: Fail): string {
  if (typeof value !== 'string') fail('invalid', path, 'not a string');
  return value;
}

/** TypeURI / ResourceURI (field_types.md): an RFC 3986 URI with a lowercase scheme. */
export function requireUri(value: unknown, path: string, fail: Fail): string {
  const s = requireString(value, path, fail);
  if (!URI.test(s)) fail('invalid', path, 'not a URI with a lowercase scheme');
  return s;
}

export function optionalUri(value: unknown, path: string, fail: Fail): string | undefined {
  return isUnset(value) ? undefined : requireUri(value, path, fail);
}

/** Timestamp (field_types.md): RFC 3339 in UTC ("Z"), a real date and time. */
export function requireTimestamp(value: unknown, path: string, fail: Fail): string {
  const s = requireString(value, path, fail);
  if (!isTimestamp(s)) fail('invalid', path, 'not an RFC 3339 UTC timestamp');
  return s;
}

export function optionalTimestamp(value: unknown, path: string, fail: Fail): string | undefined {
  return isUnset(value) ? undefined : requireTimestamp(value, path, fail);
}

export function isTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second
  );
}

/** RFC 3339 UTC with whole seconds unless the date has milliseconds. */
export function formatTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return date.toISOString().replace('.000Z', 'Z');
}

/**
 * DigestSet (digest_set.md): at least one algorithm; standard algorithms in
 * lowercase hex of their length; other algorithms any non-empty string.
 */
export function requireDigestSet(value: unknown, path: string, fail: Fail): Record<string, string> {
  const object = requireObject(value, path, fail);
  const entries = Object.entries(object);
  if (entries.length === 0) fail('missing', path, 'a digest set needs at least one digest');
  const out: [string, string][] = [];
  for (const [algorithm, digest] of entries) {
    const at = `${path}.${algorithm}`;
    if (typeof digest !== 'string' || digest === '') fail('invalid', at, 'not a digest string');
    const lengths = DIGEST_HEX_LENGTHS[algorithm];
    if (
      lengths !== undefined &&
      (!LOWER_HEX.test(digest) || !(lengths.includes(digest.length) || lengths.includes(0)))
    ) {
      fail('invalid', at, 'not lowercase hex of the algorithm length');
    }
    out.push([algorithm, digest]);
  }
  return Object.fromEntries(out);
}

/**
 * ResourceDescriptor (resource_descriptor.md): typed optional fields, at
 * least one of `uri`, `digest`, `content`. Unknown fields are kept (parsing
 * rules: consumers ignore them).
 */
export function requireResourceDescriptor(value: unknown, path: string, fail: Fail): JsonObject {
  const rd = requireObject(value, path, fail);
  optionalString(rd.name, `${path}.name`, fail);
  const uri = optionalUri(rd.uri, `${path}.uri`, fail);
  const digest = isUnset(rd.digest)
    ? undefined
    : requireDigestSet(rd.digest, `${path}.digest`, fail);
  const content = optionalString(rd.content, `${path}.content`, fail);
  if (content !== undefined && !STANDARD_BASE64.test(content)) {
    fail('invalid', `${path}.content`, 'not base64');
  }
  optionalUri(rd.downloadLocation, `${path}.downloadLocation`, fail);
  optionalString(rd.mediaType, `${path}.mediaType`, fail);
  optionalObject(rd.annotations, `${path}.annotations`, fail);
  // resource_descriptor.md: "MUST specify one of uri, digest or content at a minimum"
  if (uri === undefined && digest === undefined && (content === undefined || content === '')) {
    fail('missing', path, 'a resource descriptor needs uri, digest or content');
  }
  return rd;
}

export function optionalResourceDescriptors(
  value: unknown,
  path: string,
  fail: Fail,
): JsonObject[] | undefined {
  if (isUnset(value)) return undefined;
  if (!Array.isArray(value)) fail('invalid', path, 'not an array');
  return value.map((item: unknown, i) => requireResourceDescriptor(item, `${path}[${i}]`, fail));
}

/**
 * JSON text with object keys sorted (by code point) at every level, so the
 * same document always serialises to the same bytes. Unlike canonical JSON
 * this is valid JSON (control characters are escaped) and allows floats.
 */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isRecord(value)) return value;
  // fromEntries defines own properties, so even a "__proto__" key stays data.
  // Each key's UTF-8 bytes are made once, not once per comparison (objects of ten thousand keys).
  return Object.fromEntries(
    Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .map((key) => ({ key, bytes: utf8(key) }))
      .sort((a, b) => compareBytes(a.bytes, b.bytes))
      .map(({ key }) => [key, sortKeys(value[key])]),
  );
}
