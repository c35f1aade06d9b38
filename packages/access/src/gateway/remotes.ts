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

/** A two-phase release's first half: all of `KeyReleaseAsk` but the receipt. */
export type KeyReleasePrepareAsk = Omit<KeyReleaseAsk, 'receipt'>;

export interface KeyReleaseTicket {
  readonly ticket: string;
  /** The prepared record's digest. */
  readonly record: string;
}

export interface ReleasedBatchKeys {
  readonly breakGlass: boolean;
  readonly keys: Map<string, Uint8Array>;
}

export interface KeyReleaseClient {
  /** The single call: record, receipt and batches at once. */
  release(ask: KeyReleaseAsk): Promise<ReleasedBatchKeys>;
  /** Phase one (no receipt yet): the key release checks, audits durably and answers a ticket. */
  prepare(ask: KeyReleasePrepareAsk): Promise<KeyReleaseTicket>;
  /** Phase two: the ticket and the receipt; the keys. */
  releasePrepared(ticket: KeyReleaseTicket, receipt: string): Promise<ReleasedBatchKeys>;
}

export function keyReleaseClient(
  url: string,
  signedFetch: typeof fetch,
  timeoutMs = 30_000,
): KeyReleaseClient {
  const base = url.endsWith('/') ? url : `${url}/`;
  const post = (path: string, body: unknown): Promise<Record<string, unknown>> =>
    fetchJson(
      signedFetch,
      new URL(path, base).toString(),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      {
        unavailable: 'KEY_RELEASE_UNAVAILABLE',
        refused: 'KEY_RELEASE_REFUSED',
        what: 'the key release',
        timeoutMs,
      },
    );
  const askFields = (ask: KeyReleasePrepareAsk): Record<string, unknown> => ({
    record: b64(ask.record),
    ...(ask.request === undefined ? {} : { request: b64(ask.request) }),
    approvals: ask.approvals ?? [],
    batches: ask.batches.map((b) => b64(b)),
  });
  return {
    release: async (ask) =>
      parseReleased(await post('v1/release', { ...askFields(ask), receipt: ask.receipt })),
    prepare: async (ask) => {
      const body = await post('v1/release/prepare', askFields(ask));
      if (typeof body.ticket !== 'string' || typeof body.record !== 'string') {
        throw new AccessError('RESPONSE_INVALID', 'the prepare answer has no ticket');
      }
      return { ticket: body.ticket, record: body.record };
    },
    releasePrepared: async (t, receipt) =>
      parseReleased(await post('v1/release', { ticket: t.ticket, record: t.record, receipt })),
  };
}

function parseReleased(body: Record<string, unknown>): ReleasedBatchKeys {
  if (!Array.isArray(body.keys)) throw new AccessError('RESPONSE_INVALID', 'no keys');
  const keys = new Map<string, Uint8Array>();
  for (const k of body.keys as unknown[]) {
    const { batch, key } = (k ?? {}) as { batch?: unknown; key?: unknown };
    if (typeof batch !== 'string') throw new AccessError('RESPONSE_INVALID', 'a key has no batch');
    keys.set(batch, base64Field(key, 'key'));
  }
  return { breakGlass: body.breakGlass === true, keys };
}
