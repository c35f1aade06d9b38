/**
 * Byte helpers without `node:` imports (this package also runs in a
 * browser): UTF-8, strict base64, hex, SHA-256, canonical JSON, randomness.
 */
import { sha256 } from '@glasshouse/crypto';
import { bytesToHex } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Strict UTF-8 decoding: throws a TypeError on invalid sequences (callers map it to their code). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function toHex(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

/** Lowercase hex SHA-256. */
export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

/** `sha256:<hex>` of the exact bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${sha256Hex(bytes)}`;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Cryptographically random bytes (WebCrypto). */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;
/** DECODE for every byte value: a read past a typed array's end is V8's slow path. */
const DECODE_BYTE = new Int16Array(256).fill(-1);
DECODE_BYTE.set(DECODE);

/** Chunk of bytes per `btoa` call: a multiple of 3, so chunk encodings concatenate without padding. */
const BASE64_CHUNK = 3 * 4096;

/**
 * Strict standard base64 (the same rules as `fromBase64`) read straight from
 * ASCII bytes `text[start, end)` and written into `out` at `at` (or, without
 * `out`, only checked). Answers the number of bytes decoded, or -1 when the
 * text is not strict base64 or does not fit. Lets a byte scanner decode
 * without making a string first.
 */
export function decodeBase64Bytes(
  text: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array | undefined,
  at: number,
): number {
  const length = end - start;
  if (length % 4 !== 0 || start < 0 || end > text.length) return -1;
  const pad = length === 0 ? 0 : text[end - 1] === 61 ? (text[end - 2] === 61 ? 2 : 1) : 0;
  const size = (length / 4) * 3 - pad;
  if (out !== undefined && at + size > out.length) return -1;
  let o = at;
  const full = pad === 0 ? end : end - 4;
  for (let i = start; i < full; i += 4) {
    const a = DECODE_BYTE[text[i] as number] as number;
    const b = DECODE_BYTE[text[i + 1] as number] as number;
    const c = DECODE_BYTE[text[i + 2] as number] as number;
    const d = DECODE_BYTE[text[i + 3] as number] as number;
    // Every byte outside the alphabet reads -1: (a | b | c | d) < 0 catches any bad symbol.
    if ((a | b | c | d) < 0) return -1;
    if (out === undefined) continue;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (pad > 0) {
    const a = DECODE_BYTE[text[full] as number] as number;
    const b = DECODE_BYTE[text[full + 1] as number] as number;
    const c = pad === 2 ? 0 : (DECODE_BYTE[text[full + 2] as number] as number);
    if ((a | b | c) < 0) return -1;
    const n = (a << 18) | (b << 12) | (c << 6);
    // RFC 4648 §3.5: the unused bits before the padding are zero.
    if ((n & (pad === 2 ? 0xffff : 0xff)) !== 0) return -1;
    if (out !== undefined) {
      out[o++] = n >> 16;
      if (pad === 1) out[o++] = (n >> 8) & 0xff;
    }
  }
  return size;
}

/** Standard, padded base64 (RFC 4648 §4), with the platform's `btoa` (browsers and Node alike). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += BASE64_CHUNK) {
    const chunk = bytes.subarray(i, i + BASE64_CHUNK);
    out += btoa(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  return out;
}

/**
 * Strict standard base64 (RFC 4648 §4): padded, no whitespace, zero unused
 * bits (RFC 4648 §3.5), so one byte string has exactly one encoding. Returns
 * undefined when `text` is not that.
 */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  // decodeBase64Bytes's rules on the text's UTF-8: any non-ASCII character is a byte >= 128.
  const bytes = utf8(text);
  const size = decodeBase64Bytes(bytes, 0, bytes.length, undefined, 0);
  if (size < 0) return undefined;
  const out = new Uint8Array(size);
  decodeBase64Bytes(bytes, 0, bytes.length, out, 0);
  return out;
}

/**
 * The decoded length of `text` if it is what `fromBase64` accepts, without
 * decoding it (parsers check many base64 fields they never decode).
 */
export function base64DecodedLength(text: string): number | undefined {
  if (text.length % 4 !== 0) return undefined;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  // A table lookup per character: a regular expression here was the parsers' hot spot.
  for (let i = 0; i < text.length - pad; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (DECODE[c] ?? -1) < 0) return undefined;
  }
  if (pad > 0) {
    // RFC 4648 §3.5: the unused bits of the last symbol before the padding are zero.
    const last = DECODE[text.charCodeAt(text.length - pad - 1)] ?? 0;
    if ((last & (pad === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  return (text.length / 4) * 3 - pad;
}

/** A JSON value this package writes: no floats, no undefined inside arrays. */
export type Json =
  string | number | boolean | null | readonly Json[] | { readonly [k: string]: Json | undefined };

/**
 * Canonical JSON of this package: `JSON.stringify` of values whose objects
 * were built with a fixed key order (each format's builder fixes it), no
 * whitespace. Properties whose value is undefined are left out (optional
 * fields). Numbers must be safe integers, so every writer agrees on their
 * digits. Parsers re-encode what they read and compare the bytes, so each
 * value has exactly one encoding and digests of equal values are equal.
 */
export function canonicalJson(value: Json): string {
  assertCanonicalValue(value, 0);
  return JSON.stringify(value);
}

function assertCanonicalValue(value: Json | undefined, depth: number): void {
  if (depth > 16) throw new TypeError('canonicalJson: nested too deep');
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new TypeError('canonicalJson: numbers are safe integers');
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value as readonly (Json | undefined)[]) {
      if (item === undefined) throw new TypeError('canonicalJson: undefined in an array');
      assertCanonicalValue(item, depth + 1);
    }
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) assertCanonicalValue(item, depth + 1);
  }
}

/**
 * Parses strict UTF-8 JSON and returns the value with its text, so the
 * caller can compare the text with the canonical encoding of what it read
 * (strings compare faster than re-encoded bytes). The caller checks the
 * size first and passes `invalid`, which builds its own coded error.
 */
export function parseJsonBytes(
  bytes: Uint8Array,
  invalid: (cause: unknown) => Error,
): { value: unknown; text: string } {
  try {
    const text = fromUtf8(bytes);
    return { value: JSON.parse(text) as unknown, text };
  } catch (cause) {
    throw invalid(cause);
  }
}
