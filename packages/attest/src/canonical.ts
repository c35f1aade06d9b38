/**
 * Canonical JSON as securesystemslib encodes it (`encode_canonical`, after
 * the OLPC "Canonical JSON" note): the bytes the legacy in-toto metadata
 * signatures and the securesystemslib key IDs are computed over.
 *
 * - object keys sorted by code point, no whitespace anywhere;
 * - strings are wrapped in `"` with only `"` and `\` escaped — every other
 *   character, control characters included, is written as is, in UTF-8;
 * - integers in decimal; no floats; `true`, `false`, `null`; arrays; objects.
 *
 * The output is not always valid JSON (a raw newline inside a string is not),
 * which is fine: it is only ever hashed or signed, never parsed.
 */
import { compareBytes, utf8 } from '@glasshouse/crypto';
import { AttestError } from './errors.js';

const encoder = new TextEncoder();
// With the u flag this matches only unpaired surrogates, which have no UTF-8.
const LONE_SURROGATE = /\p{Cs}/u;

/** The canonical encoding of `value` as UTF-8 bytes. */
export function encodeCanonical(value: unknown): Uint8Array {
  return encoder.encode(canonicalString(value));
}

/** The canonical encoding of `value` as a string (encode it as UTF-8 to sign it). */
export function canonicalString(value: unknown): string {
  const out: string[] = [];
  write(value, out, '$', new Set());
  return out.join('');
}

function write(value: unknown, out: string[], path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
      out.push(encodeString(value, path));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(value.toString());
      return;
    case 'number':
      // securesystemslib encodes Python ints only; a float has no canonical form.
      if (!Number.isSafeInteger(value)) unsupported(path, 'not a safe integer', value);
      // String(-0) is "0", as Python prints the integer 0.
      out.push(String(value));
      return;
    case 'object':
      if (value === null) {
        out.push('null');
        return;
      }
      if (seen.has(value)) unsupported(path, 'a cycle');
      seen.add(value);
      if (Array.isArray(value)) {
        out.push('[');
        value.forEach((item: unknown, i) => {
          if (i > 0) out.push(',');
          write(item, out, `${path}[${i}]`, seen);
        });
        out.push(']');
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          unsupported(path, 'not a plain object');
        }
        out.push('{');
        sortedKeys(value).forEach((key, i) => {
          if (i > 0) out.push(',');
          out.push(encodeString(key, path), ':');
          write((value as Record<string, unknown>)[key], out, `${path}.${key}`, seen);
        });
        out.push('}');
      }
      seen.delete(value);
      return;
    case 'undefined':
    case 'function':
    case 'symbol':
      unsupported(path, `a ${typeof value}`);
  }
}

/** Keys in code point order (Python's `sorted`), which is UTF-8 byte order. */
function sortedKeys(object: object): string[] {
  return Object.keys(object)
    .map((key) => ({ key, bytes: utf8(key) }))
    .sort((a, b) => compareBytes(a.bytes, b.bytes))
    .map(({ key }) => key);
}

function encodeString(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) unsupported(path, 'a lone surrogate has no UTF-8 encoding');
  return `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

function unsupported(path: string, reason: string, value?: unknown): never {
  throw new AttestError('CANONICAL_JSON_UNSUPPORTED', `canonical JSON cannot encode ${reason}`, {
    evidence: value === undefined ? { path } : { path, value },
  });
}
