/**
 * The signing side: a `RequestSigner` that adds Content-Digest, Signature-Input
 * and Signature to a request, and `signedFetch`, a `fetch` that signs every
 * write (any method but GET and HEAD) it sends.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { contentDigest, sha256Field } from './digest.js';
import { HttpSigError } from './errors.js';
import { jwkThumbprint } from './keys.js';
import { signRequest } from './signature.js';

/** Our signatures' `tag` (RFC 9421 §2.3): the application they are for. */
export const DEFAULT_TAG = 'glasshouse';

/** RFC 9421 §2.2 and §2.1: what every signed write covers (content-type too when there is a body). */
export const SIGNED_COMPONENTS = ['@method', '@authority', '@path', '@query', 'content-digest'];

export interface RequestSignerOptions {
  readonly privateKey: KeyObject;
  /** Default: the RFC 7638 thumbprint of the public key. */
  readonly keyid?: string;
  readonly tag?: string;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** A fresh nonce per request; default 16 random bytes, base64url. */
  readonly nonce?: () => string;
  /** Adds `expires` this many seconds after `created`. */
  readonly expiresInSeconds?: number;
}

export interface RequestToSign {
  readonly method: string;
  readonly url: string;
  /** Lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /**
   * The body's SHA-256 when the caller has it already (it must be of
   * exactly `body`: a wrong one makes the server refuse the request).
   */
  readonly sha256?: Uint8Array;
}

export class RequestSigner {
  readonly keyid: string;
  readonly #options: RequestSignerOptions;

  constructor(options: RequestSignerOptions) {
    this.#options = options;
    this.keyid = options.keyid ?? jwkThumbprint(options.privateKey);
  }

  /** The fields to add: content-digest, signature-input, signature. */
  sign(request: RequestToSign): Record<string, string> {
    const digest =
      request.sha256 === undefined ? contentDigest(request.body) : sha256Field(request.sha256);
    const headers: Record<string, string | undefined> = {
      ...request.headers,
      'content-digest': digest,
    };
    const components = [...SIGNED_COMPONENTS];
    // RFC 9421 §7.2.8: cover the content type with the content, so the bytes cannot be reinterpreted.
    if (request.body.length > 0 || headers['content-type'] !== undefined) {
      if (headers['content-type'] === undefined) {
        throw new HttpSigError('AUTH_BODY_UNSUPPORTED', 'a signed body needs a content-type');
      }
      components.push('content-type');
    }
    const created = Math.floor((this.#options.now ?? Date.now)() / 1000);
    const { expiresInSeconds } = this.#options;
    const fields = signRequest(
      { method: request.method, url: request.url, headers },
      {
        components,
        privateKey: this.#options.privateKey,
        params: {
          created,
          ...(expiresInSeconds === undefined ? {} : { expires: created + expiresInSeconds }),
          keyid: this.keyid,
          nonce: (this.#options.nonce ?? randomNonce)(),
          tag: this.#options.tag ?? DEFAULT_TAG,
        },
      },
    );
    return { 'content-digest': digest, ...fields };
  }
}

function randomNonce(): string {
  return randomBytes(16).toString('base64url');
}

// Fetch upper-cases these method names itself (Fetch standard, "normalize a method").
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH']);

/**
 * A `fetch` that signs writes with `signer`. Bodies must be bytes or a
 * string (a stream cannot be digested before it is sent); a string body
 * without a content-type is sent as `text/plain;charset=UTF-8`, bytes as
 * `application/octet-stream`, exactly as signed.
 */
export function signedFetch(signer: RequestSigner, fetchImpl: typeof fetch = fetch): typeof fetch {
  return async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) {
      throw new HttpSigError(
        'AUTH_BODY_UNSUPPORTED',
        'signedFetch takes a URL and init, not a Request',
      );
    }
    const url = new URL(input);
    const rawMethod = init.method ?? 'GET';
    const method = NORMALIZED.has(rawMethod.toUpperCase()) ? rawMethod.toUpperCase() : rawMethod;
    if (method === 'GET' || method === 'HEAD') return fetchImpl(url, init);
    const body = bodyBytes(init.body);
    const headers = new Headers(init.headers);
    if (body.length > 0 && !headers.has('content-type')) {
      headers.set(
        'content-type',
        typeof init.body === 'string' ? 'text/plain;charset=UTF-8' : 'application/octet-stream',
      );
    }
    const record: Record<string, string> = {};
    headers.forEach((value, name) => {
      record[name] = value;
    });
    const added = signer.sign({ method, url: url.href, headers: record, body });
    for (const [name, value] of Object.entries(added)) headers.set(name, value);
    return fetchImpl(url, { ...init, method, headers, body });
  };
}

function bodyBytes(body: RequestInit['body']): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body))
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new HttpSigError('AUTH_BODY_UNSUPPORTED', 'only string and byte bodies can be signed');
}
