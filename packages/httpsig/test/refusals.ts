/**
 * The refusals every signed write endpoint must make, as a table other
 * packages' tests run against their real servers: no signature, an unknown
 * key, a key not allowed for the route, a stale created time, a replay and
 * a body changed after signing.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { RequestSigner, signedFetch } from '../src/index.js';

export interface WriteEndpoint {
  readonly url: string;
  readonly method: string;
  readonly contentType: string;
  readonly body: string | Uint8Array;
}

export interface RefusalCase {
  readonly name: string;
  readonly status: number;
  readonly code: string;
  /** Sends the offending request (for a replay: the original first, then the copy). */
  send(endpoint: WriteEndpoint): Promise<Response>;
}

export interface RefusalKeys {
  /** A key allowed to call the endpoint. */
  readonly allowed: KeyObject;
  /** A key the service knows, allowed only other routes. */
  readonly otherCaller: KeyObject;
}

const init = (e: WriteEndpoint): RequestInit => ({
  method: e.method,
  headers: { 'content-type': e.contentType },
  body: e.body,
});

const signer = (key: KeyObject, skewMs = 0): RequestSigner =>
  new RequestSigner({ privateKey: key, now: () => Date.now() + skewMs });

/** The body with one byte changed. */
function changed(body: string | Uint8Array): Uint8Array {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : Uint8Array.from(body);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
  return bytes;
}

export function refusalCases(keys: RefusalKeys): RefusalCase[] {
  const stranger = generateKeyPairSync('ed25519').privateKey;
  return [
    {
      name: 'no signature',
      status: 401,
      code: 'AUTH_SIGNATURE_MISSING',
      send: (e) => fetch(e.url, init(e)),
    },
    {
      name: 'an unknown key',
      status: 401,
      code: 'AUTH_KEY_UNKNOWN',
      send: (e) => signedFetch(signer(stranger))(e.url, init(e)),
    },
    {
      name: 'a key not allowed for the route',
      status: 403,
      code: 'AUTH_KEY_NOT_ALLOWED',
      send: (e) => signedFetch(signer(keys.otherCaller))(e.url, init(e)),
    },
    {
      name: 'a stale created time',
      status: 401,
      code: 'AUTH_SIGNATURE_STALE',
      send: (e) => signedFetch(signer(keys.allowed, -120_000))(e.url, init(e)),
    },
    {
      name: 'a replay',
      status: 401,
      code: 'AUTH_SIGNATURE_REPLAYED',
      send: async (e) => {
        let sent: RequestInit | undefined;
        const capture: typeof fetch = (url, request) => {
          sent = request;
          return fetch(url, request);
        };
        await (await signedFetch(signer(keys.allowed), capture)(e.url, init(e))).arrayBuffer();
        return fetch(e.url, sent);
      },
    },
    {
      name: 'a body changed after signing',
      status: 401,
      code: 'AUTH_DIGEST_MISMATCH',
      send: (e) =>
        signedFetch(signer(keys.allowed), (url, request) =>
          fetch(url, { ...request, body: changed(e.body) }),
        )(e.url, init(e)),
    },
  ];
}

/** The code of a refusal: a JSON `{code}` body or a `CODE: message` text line. */
export async function refusalOf(res: Response): Promise<[number, string]> {
  const text = await res.text();
  try {
    return [res.status, String((JSON.parse(text) as { code?: unknown }).code)];
  } catch {
    return [res.status, text.split(':', 1)[0] ?? ''];
  }
}
