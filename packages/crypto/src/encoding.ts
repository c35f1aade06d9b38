// Byte encodings every pure package needs (RFC 4648 base64 and hex), in one
// place and with no Node-only class, so the same code runs in a browser. Each
// decoder returns undefined for input outside its alphabet; the callers
// check their format's rules (padding, canonical form) and throw their own
// coded errors.

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUES[STANDARD.charCodeAt(i)] = i;
// RFC 4648 §5 (URL-safe alphabet) decodes to the same values.
VALUES['-'.charCodeAt(0)] = 62;
VALUES['_'.charCodeAt(0)] = 63;

/** Standard padded base64 (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = ((bytes[i] ?? 0) << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += STANDARD.charAt((n >> 18) & 63) + STANDARD.charAt((n >> 12) & 63);
    out += b === undefined ? '=' : STANDARD.charAt((n >> 6) & 63);
    out += c === undefined ? '=' : STANDARD.charAt(n & 63);
  }
  return out;
}

/**
 * Base64 in either alphabet (RFC 4648 §4 or §5), padding optional. Returns
 * undefined for a character outside the alphabets, padding before the end,
 * or a length no encoding has (one character left over). Does not check
 * that unused bits are zero: callers that need the canonical form re-encode
 * and compare.
 */
export function fromBase64(s: string): Uint8Array | undefined {
  const body = s.replace(/={1,2}$/, '');
  if (body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const code = body.charCodeAt(i);
    const v = code < 128 ? (VALUES[code] ?? -1) : -1;
    if (v < 0) return undefined;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

const HEX = '0123456789abcdef';

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX.charAt(b >> 4) + HEX.charAt(b & 15);
  return out;
}

/** Hex of either case; undefined for an odd length or a non-hex character. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder does). */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * The length of a string's UTF-8 encoding without making it (size limits
 * are checked before anything is parsed). A lone surrogate counts 3 bytes,
 * as its U+FFFD replacement would.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Byte order of two byte strings (memcmp), for sorting keys by their UTF-8 bytes. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
