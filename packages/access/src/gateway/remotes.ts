/**
 * The gateway's clients of the services it calls, each request signed with
 * the gateway's RFC 9421 caller key: a data site's read route and the
 * supervisor's key release. Failures map to the gateway's codes: unreachable
 * or 5xx → `SITE_UNAVAILABLE` / `KEY_RELEASE_UNAVAILABLE` (503), a coded 4xx →
 * `BAD_REQUEST` / `KEY_RELEASE_REFUSED` naming the remote code.
 */
import type { ReadScope } from '@glasshouse/telemetry';
import { AccessError } from '../errors.js';
import { b64, base64Field, fetchJson } from '../http.js';

export interface SiteReader {
  read(
    customer: string,
    scope: ReadScope,
  ): Promise<{ site: string; batches: Uint8Array[]; truncated: boolean }>;
}

/** `url` is the site's base URL (e.g. `http://127.0.0.1:8451/`). */
export function siteReader(url: string, signedFetch: typeof fetch, timeoutMs = 30_000): SiteReader {
  const base = url.endsWith('/') ? url : `${url}/`;
  return {
    read: async (customer, scope) => {
      const body = await fetchJson(
        signedFetch,
        new URL('v1/read', base).toString(),
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ customer, scope }),
        },
        {
          unavailable: 'SITE_UNAVAILABLE',
          refused: 'BAD_REQUEST',
          what: 'the data site',
          timeoutMs,
        },
      );
      if (typeof body.site !== 'string' || !Array.isArray(body.batches)) {
        throw new AccessError('RESPONSE_INVALID', 'the site answer has no site or batches');
      }
      return {
        site: body.site,
        batches: (body.batches as unknown[]).map((b, i) => base64Field(b, `batches[${i}]`)),
        truncated: body.truncated === true,
      };
    },
  };
}

export interface KeyReleaseAsk {
  readonly record: Uint8Array;
  readonly receipt: string;
  readonly request?: Uint8Array | undefined;
  readonly approvals?: readonly string[] | undefined;
  readonly batches: readonly Uint8Array[];
}

export interface KeyReleaseClient {
  release(ask: KeyReleaseAsk): Promise<{ breakGlass: boolean; keys: Map<string, Uint8Array> }>;
}

export function keyReleaseClient(
  url: string,
  signedFetch: typeof fetch,
  timeoutMs = 30_000,
): KeyReleaseClient {
  const base = url.endsWith('/') ? url : `${url}/`;
  return {
    release: async (ask) => {
      const body = await fetchJson(
        signedFetch,
        new URL('v1/release', base).toString(),
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            record: b64(ask.record),
            receipt: ask.receipt,
            ...(ask.request === undefined ? {} : { request: b64(ask.request) }),
            approvals: ask.approvals ?? [],
            batches: ask.batches.map((b) => b64(b)),
          }),
        },
        {
          unavailable: 'KEY_RELEASE_UNAVAILABLE',
          refused: 'KEY_RELEASE_REFUSED',
          what: 'the key release',
          timeoutMs,
        },
      );
      if (!Array.isArray(body.keys)) throw new AccessError('RESPONSE_INVALID', 'no keys');
      const keys = new Map<string, Uint8Array>();
      for (const k of body.keys as unknown[]) {
        const { batch, key } = (k ?? {}) as { batch?: unknown; key?: unknown };
        if (typeof batch !== 'string')
          throw new AccessError('RESPONSE_INVALID', 'a key has no batch');
        keys.set(batch, base64Field(key, 'key'));
      }
      return { breakGlass: body.breakGlass === true, keys };
    },
  };
}
