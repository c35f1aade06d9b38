/**
 * Internal byte helpers without `node:` imports (the package runs in a
 * browser): UTF-8, hex, 64-bit big-endian integers, SHA-256 by default from
 * @noble/hashes. Shared helpers (base64, canonical JSON, bytesEqual) come
 * from @glasshouse/residency.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8: throws a TypeError on invalid sequences (callers map it to their code). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export const toHex = bytesToHex;

const HEX_32 = /^[0-9a-f]{64}$/;

/** 32 bytes from 64 lowercase hex digits, or undefined. */
export function fromHex32(text: unknown): Uint8Array | undefined {
  return typeof text === 'string' && HEX_32.test(text) ? hexToBytes(text) : undefined;
}

/**
 * The hash every tree of this package uses: one-shot SHA-256 of the bytes.
 * The default is @noble/hashes (runs anywhere); a server may pass a faster
 * implementation of the same function (e.g. node:crypto's `hash`).
 */
export type Sha256 = (data: Uint8Array) => Uint8Array;

export const nobleSha256: Sha256 = (data) => sha256(data);

export interface HashOptions {
  /** SHA-256 implementation (one-shot, synchronous, must not keep its input); @noble/hashes by default. */
  readonly sha256?: Sha256;
}

/** Writes `value` (0 ≤ value < 2^53) as 8 big-endian bytes at `offset`. */
export function writeUint64(out: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000);
  const low = value >>> 0;
  out[offset] = high >>> 24;
  out[offset + 1] = (high >>> 16) & 0xff;
  out[offset + 2] = (high >>> 8) & 0xff;
  out[offset + 3] = high & 0xff;
  out[offset + 4] = low >>> 24;
  out[offset + 5] = (low >>> 16) & 0xff;
  out[offset + 6] = (low >>> 8) & 0xff;
  out[offset + 7] = low & 0xff;
}

export const ZERO_HASH: Uint8Array = new Uint8Array(32);

export function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

/**
 * Parses strict UTF-8 JSON; the caller checks the size first and passes
 * `invalid`, which builds its own coded error around the cause.
 */
export function parseJsonBytes(bytes: Uint8Array, invalid: (cause: unknown) => Error): unknown {
  try {
    return JSON.parse(fromUtf8(bytes)) as unknown;
  } catch (cause) {
    throw invalid(cause);
  }
}
