/** Small JSON helpers shared by the TUF modules (not part of the public API). */
import { DistributionError, type DistributionErrorCode } from './errors.js';

/** A JSON object literal (`{...}`), not an array, null or class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Parses UTF-8 JSON of at most `maxBytes`, throwing `code` when it is not. */
export function parseJsonBytes(
  bytes: Uint8Array,
  maxBytes: number,
  code: DistributionErrorCode,
  what: string,
): unknown {
  if (bytes.length > maxBytes) {
    throw new DistributionError(code, `${what} is larger than ${maxBytes} bytes`, {
      evidence: { length: bytes.length },
    });
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (err) {
    throw new DistributionError(code, `${what} is not UTF-8 JSON`, { cause: err });
  }
}
