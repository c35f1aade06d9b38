// Argument checks both engines share, so that they refuse the same inputs the same way.

/** A programming error (callers parse keys first and throw their own coded errors). */
export function expectLength(bytes: Uint8Array, lengths: readonly number[], what: string): void {
  if (!lengths.includes(bytes.length)) {
    throw new RangeError(`${what} is ${lengths.join(' or ')} bytes`);
  }
}

/** RFC 5869 §2.3: L ≤ 255 · HashLen. */
export function expectHkdfLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > 255 * 32) {
    throw new RangeError('HKDF-SHA256 output is 0..8160 bytes');
  }
}

export const GCM_TAG_BYTES = 16;
