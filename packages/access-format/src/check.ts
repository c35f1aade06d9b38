/**
 * Small schema checks shared by the parsers. Each parser passes its own
 * `fail`, so every refusal carries that parser's code.
 */
export type Fail = (what: string, evidence?: Record<string, unknown>) => never;

export type Obj = Record<string, unknown>;

/** Short, printable form of a refused value for evidence. */
export function preview(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 80 ? `${value.slice(0, 80)}…` : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  return typeof value;
}

/** An object with exactly `required` keys plus any of `optional`; unknown fields are refused. */
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
  for (const key of required) if (!Object.hasOwn(obj, key)) fail(`${what} lacks "${key}"`);
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

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;

/** An RFC 3339 §5.6 date-time in UTC ("Z"), as every time of the data half. */
export function rfc3339(value: unknown, what: string, fail: Fail): string {
  const m = typeof value === 'string' ? RFC3339_UTC.exec(value) : null;
  if (m === null) return fail(`${what} is not an RFC 3339 UTC time`, { value: preview(value) });
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) {
    return fail(`${what} is not a valid time`, { value: preview(value) });
  }
  return value as string;
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
