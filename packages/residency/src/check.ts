/**
 * Small schema checks shared by the parsers. Each parser passes its own
 * `fail`, so every refusal carries that parser's code.
 */
import { base64DecodedLength } from './bytes.js';

export type Fail = (what: string, evidence?: Record<string, unknown>) => never;

/** A plain JSON object. */
export type Obj = Record<string, unknown>;

/**
 * `value` is an object whose keys are exactly `required` plus any of
 * `optional`: an unknown field is refused, not ignored, so a renamed field
 * cannot slip past a check.
 */
export function exactObject(
  value: unknown,
  what: string,
  required: readonly string[],
  optional: readonly string[],
  fail: Fail,
): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`${what} is not a JSON object`);
  }
  const obj = value as Obj;
  for (const key of required) {
    if (!Object.hasOwn(obj, key)) fail(`${what} lacks "${key}"`);
  }
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) {
      fail(`${what} has an unknown field "${key}"`);
    }
  }
  return obj;
}

export function matching(value: unknown, pattern: RegExp, what: string, fail: Fail): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    return fail(`${what} is not ${String(pattern)}`, { value: preview(value) });
  }
  return value;
}

/** A positive safe integer. */
export function positiveInteger(value: unknown, what: string, fail: Fail): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    return fail(`${what} is not a positive integer`, { value: preview(value) });
  }
  return value;
}

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;

/**
 * An RFC 3339 §5.6 date-time in UTC ("Z"): one time zone keeps times
 * comparable as strings and as instants. Leap seconds are refused.
 */
let lastValidTime = '';

export function isRfc3339(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  // Events of a batch share their hour bucket: remember the last valid time.
  if (value === lastValidTime) return true;
  const m = RFC3339_UTC.exec(value);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return false;
  // RFC 3339 §5.7: the day must exist in that month.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return false;
  lastValidTime = value;
  return true;
}

export function rfc3339(value: unknown, what: string, fail: Fail): string {
  if (!isRfc3339(value))
    return fail(`${what} is not an RFC 3339 UTC time`, { value: preview(value) });
  return value;
}

/** Strict standard base64 (as `fromBase64` accepts) of `min`..`max` decoded bytes; returns the text. */
export function base64Field(
  value: unknown,
  what: string,
  min: number,
  max: number,
  fail: Fail,
): string {
  const length = typeof value === 'string' ? base64DecodedLength(value) : undefined;
  if (length === undefined) return fail(`${what} is not strict standard base64`);
  if (length < min || length > max) {
    return fail(`${what} decodes to ${length} bytes, not ${min}..${max}`);
  }
  return value as string;
}

/** A short, safe rendering of a refused value for evidence. */
export function preview(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 80 ? `${value.slice(0, 80)}…` : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  return typeof value;
}
