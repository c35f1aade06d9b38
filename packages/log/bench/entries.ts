/** Entry and request-body makers shared by the load generator and the sampler. */
import { randomBytes } from 'node:crypto';
import { encodeBundle } from '@glasshouse/tlog';

/** A printable entry of exactly `size` bytes (random base64 text, like a signed statement). */
export function makeEntry(size: number): Buffer {
  return Buffer.from(
    randomBytes(Math.ceil((size * 3) / 4))
      .toString('base64')
      .slice(0, size),
  );
}

/** A POST /add-batch body: `count` entries of `size` bytes in the entry-bundle encoding. */
export function makeBundle(count: number, size: number): Buffer {
  const bundle = encodeBundle(Array.from({ length: count }, () => makeEntry(size)));
  return Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
}
