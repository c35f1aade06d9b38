/**
 * The signature base of RFC 9421 §2.5: one line per covered component, then
 * the `@signature-params` line. Pure: the message is a value, nothing is read
 * from a socket.
 */
import { HttpSigError } from './errors.js';
import {
  serializeBareItem,
  serializeInnerList,
  type BareItem,
  type InnerList,
  type Item,
  type Parameters,
} from './structured.js';

/** Header values as Node's `IncomingHttpHeaders` holds them: lowercase names. */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * An HTTP request as the signer sent it or the verifier received it. `url`
 * is absolute: the verifier builds it from the scheme it serves, the Host
 * header and the request target.
 */
export interface HttpRequestMessage {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderRecord;
}

/** The derived components this package derives (RFC 9421 §2.2). */
export const DERIVED_COMPONENTS = [
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@request-target',
  '@path',
  '@query',
] as const;
export type DerivedComponent = (typeof DERIVED_COMPONENTS)[number];

/** The covered components and signature parameters: the `@signature-params` value (§2.3). */
export interface SignatureInput {
  readonly components: readonly string[];
  readonly params: Parameters;
}

/** RFC 9421 §2.3: the inner list of component identifiers with the signature parameters. */
export function signatureParamsList(input: SignatureInput): InnerList {
  const items: Item[] = input.components.map((name) => ({
    kind: 'item',
    value: { type: 'string', value: name },
    params: [],
  }));
  return { kind: 'inner-list', items, params: input.params };
}

/**
 * RFC 9421 §2.5: the signature base of `message` for `input`. Throws
 * `AUTH_COMPONENT_MISSING` when a covered field is absent and
 * `AUTH_COMPONENT_UNSUPPORTED` for identifiers this package does not derive.
 */
export function signatureBase(message: HttpRequestMessage, input: SignatureInput): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  let url: URL | undefined;
  for (const name of input.components) {
    // §2.5 step 2.1: a component identifier appears at most once.
    if (seen.has(name)) {
      throw new HttpSigError('AUTH_SIGNATURE_MALFORMED', `"${name}" is covered twice`);
    }
    seen.add(name);
    let value: string;
    if (name.startsWith('@')) {
      url ??= parseUrl(message.url);
      value = derived(name, message, url);
    } else {
      value = fieldValue(name, message.headers);
    }
    // §2.5 step 2.4-2.7: "<identifier>": <value>
    lines.push(`${serializeBareItem({ type: 'string', value: name })}: ${value}`);
  }
  // §2.5 step 3: the @signature-params line comes last.
  lines.push(`"@signature-params": ${serializeInnerList(signatureParamsList(input))}`);
  return lines.join('\n');
}

function parseUrl(text: string): URL {
  try {
    return new URL(text);
  } catch (cause) {
    throw new HttpSigError('AUTH_COMPONENT_MISSING', 'the request target is not a URL', { cause });
  }
}

/** RFC 9421 §2.2 */
function derived(name: string, message: HttpRequestMessage, url: URL): string {
  switch (name as DerivedComponent) {
    case '@method':
      // §2.2.1: the method as sent; methods are case-sensitive.
      return message.method;
    case '@target-uri':
      // §2.2.2: the full target URI.
      return url.href;
    case '@authority':
      // §2.2.3: host lowercased, default port omitted (the URL parser does both).
      return url.host;
    case '@scheme':
      // §2.2.4: lowercase scheme.
      return url.protocol.slice(0, -1);
    case '@request-target':
      // §2.2.5: origin-form, path and query as in the request line.
      return url.pathname + url.search;
    case '@path':
      // §2.2.6: the absolute path, "/" when empty; no query.
      return url.pathname === '' ? '/' : url.pathname;
    case '@query':
      // §2.2.7: the query with its leading "?"; an absent query is "?".
      return url.search === '' ? '?' : url.search;
  }
  if (name === '@signature-params') {
    // §2.3: it is never listed among the covered components.
    throw new HttpSigError('AUTH_SIGNATURE_MALFORMED', '"@signature-params" cannot be covered');
  }
  throw new HttpSigError('AUTH_COMPONENT_UNSUPPORTED', `"${name}" is not a derived component`);
}

/**
 * RFC 9421 §2.1: an HTTP field's value, each field line's value with leading
 * and trailing whitespace removed, joined by ", ".
 */
function fieldValue(name: string, headers: HeaderRecord): string {
  // §2.1: component names of fields are the lowercased field names.
  if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) {
    throw new HttpSigError('AUTH_SIGNATURE_MALFORMED', `"${name}" is not a lowercase field name`);
  }
  const raw = headers[name];
  if (raw === undefined) {
    throw new HttpSigError('AUTH_COMPONENT_MISSING', `the covered field "${name}" is absent`);
  }
  const lines = typeof raw === 'string' ? [raw] : raw;
  // §2.1: obs-fold is replaced by a single space.
  return lines.map((v) => v.replace(/\r?\n[ \t]+/g, ' ').trim()).join(', ');
}

/** The string value of parameter `key`, or undefined (and an error if it has another type). */
export function paramOf(params: Parameters, key: string): BareItem | undefined {
  return params.find(([k]) => k === key)?.[1];
}
