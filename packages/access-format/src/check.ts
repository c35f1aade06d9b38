/**
 * Small schema checks shared by the parsers. Each parser passes its own
 * `fail`, so every refusal carries that parser's code.
 */
import { preview, type Fail } from '@glasshouse/residency';

// The object, pattern, time and preview checks are residency's (one set of schema checks
// for the pure formats); the ones below are this package's own.
export {
  exactObject,
  matching,
  preview,
  rfc3339,
  type Fail,
  type Obj,
} from '@glasshouse/residency';

/** Printable text of 1..max characters without control characters (C0 and DEL). */
export function text(value: unknown, max: number, what: string, fail: Fail): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || hasControl(value)) {
    return fail(`${what} is not 1..${max} printable characters`, { value: preview(value) });
  }
  return value;
}

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A safe integer ≥ min. */
export function integer(value: unknown, min: number, what: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    return fail(`${what} is not an integer ≥ ${min}`, { value: preview(value) });
  }
  return value;
}

/** Milliseconds since the epoch of a checked RFC 3339 time. */
export function instant(time: string): number {
  return Date.parse(time);
}

export function array(
  value: unknown,
  min: number,
  max: number,
  what: string,
  fail: Fail,
): unknown[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    return fail(`${what} is not a list of ${min}..${max} items`);
  }
  return value as unknown[];
}
