/**
 * Just enough PEM (RFC 7468) and DER (X.690) to read and write Ed25519 keys
 * without a platform crypto library, so this package also runs in a
 * browser. Only what key files need: one block with a known label, and the
 * algorithm OID of a PKCS#8 or SPKI structure.
 */
import { fromBase64, toBase64 } from '@glasshouse/crypto';

/** Key files are small; anything larger is not a key. */
const MAX_PEM_CHARS = 64 * 1024;

/**
 * The DER bytes of the first `-----BEGIN <label>-----` block (RFC 7468 §2:
 * text before and after the block is allowed; whitespace inside the base64
 * is ignored, as lax parsers do per §3). Undefined when there is no such
 * block or its body is not base64.
 */
export function pemDecode(text: string, label: string): Uint8Array | undefined {
  if (text.length > MAX_PEM_CHARS) return undefined;
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const from = text.indexOf(begin);
  const to = from < 0 ? -1 : text.indexOf(end, from + begin.length);
  if (to < 0) return undefined;
  const body = text.slice(from + begin.length, to).replace(/[ \t\r\n]/g, '');
  // RFC 7468 §3: standard alphabet, padded.
  if (body.length === 0 || body.length % 4 !== 0 || /[-_]/.test(body)) return undefined;
  return fromBase64(body);
}

/** RFC 7468 §2 generation: 64-character lines, a final newline. */
export function pemEncode(der: Uint8Array, label: string): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

/** One DER TLV at `at` (definite lengths only, up to 2 length bytes). */
function readTlv(der: Uint8Array, at: number, limit: number): Tlv | undefined {
  const tag = der[at];
  let length = der[at + 1];
  if (tag === undefined || length === undefined) return undefined;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count < 1 || count > 2) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = (length << 8) | (der[start + i] ?? 0);
    start += count;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const OID = 0x06;

/**
 * The algorithm OID (dotted) of a PKCS#8 PrivateKeyInfo (RFC 5208 §5) or an
 * SPKI SubjectPublicKeyInfo (RFC 5280 §4.1), or undefined when the bytes do
 * not have that structure.
 */
export function derAlgorithm(der: Uint8Array, kind: 'pkcs8' | 'spki'): string | undefined {
  const outer = readTlv(der, 0, der.length);
  if (outer?.tag !== SEQUENCE || outer.end !== der.length) return undefined;
  let at = outer.start;
  if (kind === 'pkcs8') {
    const version = readTlv(der, at, outer.end);
    if (version?.tag !== INTEGER) return undefined;
    at = version.end;
  }
  const algorithm = readTlv(der, at, outer.end);
  if (algorithm?.tag !== SEQUENCE) return undefined;
  const oid = readTlv(der, algorithm.start, algorithm.end);
  if (oid?.tag !== OID || oid.end === oid.start) return undefined;
  return decodeOid(der.subarray(oid.start, oid.end));
}

/** X.690 §8.19: first byte 40·a + b, then base-128 groups. */
function decodeOid(bytes: Uint8Array): string | undefined {
  const arcs: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) return undefined;
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  if ((bytes[bytes.length - 1] ?? 0x80) & 0x80) return undefined;
  const first = arcs.shift() ?? 0;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - 40 * a, ...arcs].join('.');
}
