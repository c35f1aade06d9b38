/**
 * The part of Structured Field Values (RFC 8941, as updated by RFC 9651)
 * that HTTP Message Signatures and Digest Fields use: Dictionaries whose
 * members are Items or Inner Lists with Parameters. Parsing follows
 * RFC 9651 §4.2 step by step and is strict: anything the algorithm says
 * "fail parsing" on is an `SF_MALFORMED` error. Serialisation follows §4.1.
 *
 * Sizes are capped before any work (`SF_TOO_LARGE`): these fields arrive
 * from anyone on the network.
 */
import { HttpSigError } from './errors.js';

/** A bare item (RFC 9651 §3.3). Display strings (§3.3.8) are not supported. */
export type BareItem =
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'decimal'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'token'; readonly value: string }
  | { readonly type: 'bytes'; readonly value: Uint8Array }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'date'; readonly value: number };

/** Parameters in order (RFC 9651 §3.1.2); keys are unique. */
export type Parameters = readonly (readonly [string, BareItem])[];

export interface Item {
  readonly kind: 'item';
  readonly value: BareItem;
  readonly params: Parameters;
}

export interface InnerList {
  readonly kind: 'inner-list';
  readonly items: readonly Item[];
  readonly params: Parameters;
}

/** A Dictionary in order (RFC 9651 §3.2); keys are unique. */
export type Dictionary = readonly (readonly [string, Item | InnerList])[];

export interface SfLimits {
  /** Most bytes in the field value. Default 8 KiB. */
  readonly maxBytes?: number;
  /** Most dictionary members. Default 16. */
  readonly maxMembers?: number;
  /** Most items in one inner list. Default 32. */
  readonly maxItems?: number;
  /** Most parameters on one item or inner list. Default 16. */
  readonly maxParams?: number;
}

const DEFAULTS = { maxBytes: 8 * 1024, maxMembers: 16, maxItems: 32, maxParams: 16 } as const;

// RFC 9651 §3.3.1: integers have at most 15 decimal digits.
const MAX_INTEGER = 999_999_999_999_999;
const KEY_FIRST = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_FIRST = /[A-Za-z*]/;
// RFC 9110 §5.6.2 tchar, plus ":" and "/" (RFC 9651 §3.3.4).
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const BASE64_CHAR = /[A-Za-z0-9+/=]/;
const DIGIT = /[0-9]/;

function malformed(message: string): HttpSigError {
  return new HttpSigError('SF_MALFORMED', message);
}

/** A cursor over one field value: the "input_string" of RFC 9651 §4.2. */
class Input {
  pos = 0;
  constructor(
    readonly text: string,
    readonly limits: Required<SfLimits>,
  ) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  next(): string {
    return this.text.charAt(this.pos++);
  }

  skipSP(): void {
    while (this.peek() === ' ') this.pos++;
  }

  // OWS = *( SP / HTAB )
  skipOWS(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
}

function start(text: string, limits: SfLimits): Input {
  const all = { ...DEFAULTS, ...limits };
  if (text.length > all.maxBytes) {
    throw new HttpSigError('SF_TOO_LARGE', `the field is over ${all.maxBytes} bytes`);
  }
  // RFC 9651 §4.2: field values are ASCII; anything else fails parsing.
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(text)) throw malformed('the field is not ASCII');
  return new Input(text, all);
}

/** RFC 9651 §4.2, with Dictionary as the top-level type. */
export function parseDictionary(text: string, limits: SfLimits = {}): Dictionary {
  const input = start(text, limits);
  input.skipSP();
  const out = new Map<string, Item | InnerList>();
  // RFC 9651 §4.2.2
  while (!input.atEnd()) {
    const key = parseKey(input);
    let member: Item | InnerList;
    if (input.peek() === '=') {
      input.next();
      member = parseItemOrInnerList(input);
    } else {
      member = {
        kind: 'item',
        value: { type: 'boolean', value: true },
        params: parseParams(input),
      };
    }
    // A duplicate key overwrites the earlier value in place (RFC 9651 §4.2.2).
    out.set(key, member);
    if (out.size > input.limits.maxMembers) {
      throw new HttpSigError('SF_TOO_LARGE', `more than ${input.limits.maxMembers} members`);
    }
    input.skipOWS();
    if (input.atEnd()) break;
    if (input.next() !== ',') throw malformed('members must be separated by ","');
    input.skipOWS();
    if (input.atEnd()) throw malformed('a trailing "," ends the dictionary');
  }
  input.skipSP();
  return [...out];
}

/** RFC 9651 §4.2.1.1 */
function parseItemOrInnerList(input: Input): Item | InnerList {
  return input.peek() === '(' ? parseInnerList(input) : parseItem(input);
}

/** RFC 9651 §4.2.1.2 */
function parseInnerList(input: Input): InnerList {
  input.next(); // "("
  const items: Item[] = [];
  while (!input.atEnd()) {
    input.skipSP();
    if (input.peek() === ')') {
      input.next();
      return { kind: 'inner-list', items, params: parseParams(input) };
    }
    items.push(parseItem(input));
    if (items.length > input.limits.maxItems) {
      throw new HttpSigError('SF_TOO_LARGE', `more than ${input.limits.maxItems} list items`);
    }
    const c = input.peek();
    if (c !== ' ' && c !== ')') throw malformed('inner-list items must be separated by SP');
  }
  throw malformed('the inner list is not closed');
}

/** RFC 9651 §4.2.3 */
function parseItem(input: Input): Item {
  const value = parseBareItem(input);
  return { kind: 'item', value, params: parseParams(input) };
}

/** RFC 9651 §4.2.3.1 */
function parseBareItem(input: Input): BareItem {
  const c = input.peek();
  if (c === '-' || DIGIT.test(c)) return parseNumber(input);
  if (c === '"') return { type: 'string', value: parseString(input) };
  if (c === ':') return { type: 'bytes', value: parseBytes(input) };
  if (c === '?') return { type: 'boolean', value: parseBoolean(input) };
  if (c === '@') return parseDate(input);
  if (c !== '' && TOKEN_FIRST.test(c)) return { type: 'token', value: parseToken(input) };
  throw malformed(c === '' ? 'an item is missing' : `no item starts with "${c}"`);
}

/** RFC 9651 §4.2.3.2 */
function parseParams(input: Input): Parameters {
  const out = new Map<string, BareItem>();
  while (input.peek() === ';') {
    input.next();
    input.skipSP();
    const key = parseKey(input);
    let value: BareItem = { type: 'boolean', value: true };
    if (input.peek() === '=') {
      input.next();
      value = parseBareItem(input);
    }
    out.set(key, value);
    if (out.size > input.limits.maxParams) {
      throw new HttpSigError('SF_TOO_LARGE', `more than ${input.limits.maxParams} parameters`);
    }
  }
  return [...out];
}

/** RFC 9651 §4.2.3.3 */
function parseKey(input: Input): string {
  const first = input.peek();
  if (first === '' || !KEY_FIRST.test(first)) throw malformed('a key must start with a-z or "*"');
  let key = '';
  while (!input.atEnd() && KEY_CHAR.test(input.peek())) key += input.next();
  return key;
}

/** RFC 9651 §4.2.4 */
function parseNumber(input: Input): BareItem {
  let sign = 1;
  if (input.peek() === '-') {
    input.next();
    sign = -1;
  }
  if (!DIGIT.test(input.peek())) throw malformed('a number needs a digit');
  let digits = '';
  let decimal = false;
  while (!input.atEnd()) {
    const c = input.peek();
    if (DIGIT.test(c)) digits += input.next();
    else if (!decimal && c === '.') {
      if (digits.length > 12) throw malformed('a decimal has at most 12 integer digits');
      decimal = true;
      digits += input.next();
    } else break;
    if (!decimal && digits.length > 15) throw malformed('an integer has at most 15 digits');
    if (decimal && digits.length > 16) throw malformed('a decimal is at most 16 characters');
  }
  if (!decimal) return { type: 'integer', value: sign * Number(digits) };
  if (digits.endsWith('.')) throw malformed('a decimal cannot end with "."');
  if (digits.length - digits.indexOf('.') - 1 > 3) {
    throw malformed('a decimal has at most 3 fractional digits');
  }
  return { type: 'decimal', value: sign * Number(digits) };
}

/** RFC 9651 §4.2.5 */
function parseString(input: Input): string {
  input.next(); // DQUOTE
  let out = '';
  while (!input.atEnd()) {
    const c = input.next();
    if (c === '\\') {
      const escaped = input.next();
      if (escaped !== '"' && escaped !== '\\') throw malformed('only \\" and \\\\ are escapes');
      out += escaped;
    } else if (c === '"') {
      return out;
    } else if (c < ' ' || c > '~') {
      throw malformed('a string holds only visible ASCII and SP');
    } else {
      out += c;
    }
  }
  throw malformed('the string is not closed');
}

/** RFC 9651 §4.2.6 */
function parseToken(input: Input): string {
  let out = '';
  while (!input.atEnd() && TOKEN_CHAR.test(input.peek())) out += input.next();
  return out;
}

/** RFC 9651 §4.2.7; only canonical base64 is accepted. */
function parseBytes(input: Input): Uint8Array {
  input.next(); // ":"
  let b64 = '';
  while (!input.atEnd() && input.peek() !== ':') {
    const c = input.next();
    if (!BASE64_CHAR.test(c)) throw malformed('a byte sequence holds only base64');
    b64 += c;
  }
  if (input.next() !== ':') throw malformed('the byte sequence is not closed');
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.toString('base64') !== b64)
    throw malformed('the byte sequence is not canonical base64');
  return new Uint8Array(bytes);
}

/** RFC 9651 §4.2.8 */
function parseBoolean(input: Input): boolean {
  input.next(); // "?"
  const c = input.next();
  if (c === '1') return true;
  if (c === '0') return false;
  throw malformed('a boolean is ?0 or ?1');
}

/** RFC 9651 §4.2.9 */
function parseDate(input: Input): BareItem {
  input.next(); // "@"
  const n = parseNumber(input);
  if (n.type !== 'integer') throw malformed('a date is an integer');
  return { type: 'date', value: n.value };
}

// ---- serialisation, RFC 9651 §4.1 ------------------------------------------

/** RFC 9651 §4.1.2 */
export function serializeDictionary(dict: Dictionary): string {
  return dict
    .map(([key, member]) => {
      const k = serializeKey(key);
      if (member.kind === 'item' && member.value.type === 'boolean' && member.value.value) {
        return k + serializeParams(member.params);
      }
      return `${k}=${serializeItemOrInnerList(member)}`;
    })
    .join(', ');
}

export function serializeItemOrInnerList(member: Item | InnerList): string {
  return member.kind === 'inner-list' ? serializeInnerList(member) : serializeItem(member);
}

/** RFC 9651 §4.1.1.1 */
export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map(serializeItem).join(' ')})${serializeParams(list.params)}`;
}

/** RFC 9651 §4.1.3 */
export function serializeItem(item: Item): string {
  return serializeBareItem(item.value) + serializeParams(item.params);
}

/** RFC 9651 §4.1.1.2 */
export function serializeParams(params: Parameters): string {
  return params
    .map(([key, value]) =>
      value.type === 'boolean' && value.value
        ? `;${serializeKey(key)}`
        : `;${serializeKey(key)}=${serializeBareItem(value)}`,
    )
    .join('');
}

/** RFC 9651 §4.1.1.3 */
function serializeKey(key: string): string {
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(key)) throw malformed(`"${key}" is not a key`);
  return key;
}

/** RFC 9651 §4.1.3.1 */
export function serializeBareItem(item: BareItem): string {
  switch (item.type) {
    case 'integer':
      return serializeInteger(item.value);
    case 'decimal': {
      // §4.1.5: round to three fractional digits, at most 12 integer digits.
      if (!Number.isFinite(item.value) || Math.abs(Math.trunc(item.value)) > 999_999_999_999) {
        throw malformed('the decimal is out of range');
      }
      const fixed = (Math.round(item.value * 1000) / 1000).toFixed(3).replace(/0{1,2}$/, '');
      return fixed;
    }
    case 'string':
      // §4.1.6: visible ASCII and SP only; escape DQUOTE and backslash.
      if (!/^[ -~]*$/.test(item.value)) throw malformed('a string holds only visible ASCII');
      return `"${item.value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    case 'token':
      if (!/^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/.test(item.value)) {
        throw malformed(`"${item.value}" is not a token`);
      }
      return item.value;
    case 'bytes':
      return `:${Buffer.from(item.value).toString('base64')}:`;
    case 'boolean':
      return item.value ? '?1' : '?0';
    case 'date':
      return `@${serializeInteger(item.value)}`;
  }
}

/** RFC 9651 §4.1.4 */
function serializeInteger(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > MAX_INTEGER) {
    throw malformed('the integer is out of range');
  }
  return String(n);
}
