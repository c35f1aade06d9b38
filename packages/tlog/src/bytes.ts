/** Byte-wise equality; roots, proofs and entries are public, so no constant-time need. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Map(Array.from({ length: 64 }, (_, i) => [B64_ALPHABET.charAt(i), i]));

/** Standard padded base64 (RFC 4648 §4). */
export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64_ALPHABET.charAt((n >> 18) & 63) + B64_ALPHABET.charAt((n >> 12) & 63);
    out += b === undefined ? '=' : B64_ALPHABET.charAt((n >> 6) & 63);
    out += c === undefined ? '=' : B64_ALPHABET.charAt(n & 63);
  }
  return out;
}

/**
 * Decodes standard padded base64 whose shape the caller has already checked
 * (length a multiple of 4, alphabet, padding at the end only).
 */
export function base64DecodeChecked(s: string): Uint8Array {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) n = (n << 6) | (B64_VALUE.get(s[i + k] ?? '=') ?? 0);
    if (o < out.length) out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}
