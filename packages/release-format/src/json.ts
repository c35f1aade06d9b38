import { ReleaseFormatError, type ReleaseFormatErrorCode } from './errors.js';

/**
 * The first step of every document parser here: at most `maxBytes`, strict
 * UTF-8 (no replacement characters), JSON, a top-level object. Anything
 * else is `code` with `what` (the document's name) in the message.
 */
export function parseJsonObject(
  bytes: Uint8Array,
  maxBytes: number,
  code: ReleaseFormatErrorCode,
  what: string,
): Record<string, unknown> {
  if (bytes.length > maxBytes) {
    throw new ReleaseFormatError(code, `${what}: over ${maxBytes} bytes`, {
      evidence: { size: bytes.length },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ReleaseFormatError(code, `${what}: not UTF-8 JSON`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ReleaseFormatError(code, `${what}: not a JSON object`);
  }
  return value as Record<string, unknown>;
}
