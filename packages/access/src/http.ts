/**
 * HTTP plumbing the package's servers share: one error answer
 * (`{code, message}` with the status of the code), JSON bodies read as
 * bytes with a size cap, and the fetch wrapper of its clients.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AccessFormatError } from '@glasshouse/access-format';
import { CodedError } from '@glasshouse/errors';
import { AccessError, type AccessErrorCode } from './errors.js';

/** HTTP status of each code a server of this package answers with. */
export const ACCESS_STATUS: Readonly<Partial<Record<AccessErrorCode, number>>> = {
  BAD_REQUEST: 400,
  JUSTIFICATION_MISSING: 400,
  RECORD_INVALID: 400,
  BATCH_INVALID: 400,
  PRINCIPAL_UNKNOWN: 403,
  SITE_UNKNOWN: 404,
  CUSTOMER_UNKNOWN: 403,
  RECORD_PROOF_INVALID: 403,
  RECORD_NOT_WITNESSED: 403,
  RECORD_EXPIRED: 403,
  OUT_OF_SCOPE: 403,
  REQUESTER_MISMATCH: 403,
  REVIEW_NOT_EXPECTED: 409,
  RECORD_REPLAYED: 409,
  REQUEST_EXPIRED: 409,
  REQUEST_NOT_FOUND: 404,
  BATCHES_NOT_FOUND: 404,
  SEALED_KEY_OPEN_FAILED: 422,
  TICKET_UNKNOWN: 409,
  TICKET_MISMATCH: 409,
  TOO_MANY_PREPARED: 503,
  KEY_RELEASE_REFUSED: 502,
  ACCESS_LOG_UNAVAILABLE: 503,
  WITNESS_QUORUM_UNAVAILABLE: 503,
  SITE_UNAVAILABLE: 503,
  KEY_RELEASE_UNAVAILABLE: 503,
  STORE_FAILED: 503,
  CLOSED: 503,
};

export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly evidence?: Readonly<Record<string, unknown>> | undefined;
}

/** The answer for a thrown error: access codes by table, access-format refusals 403, else 500. */
export function describeError(err: unknown): ErrorAnswer {
  if (err instanceof AccessError) {
    return {
      status: ACCESS_STATUS[err.code] ?? 500,
      code: err.code,
      message: err.message,
      evidence: err.evidence,
    };
  }
  if (err instanceof AccessFormatError) {
    // The access policy refused (approval missing/expired/forged/other scope, …) or input is malformed.
    const malformed = err.code.endsWith('_INVALID') && err.code !== 'APPROVAL_SIGNATURE_INVALID';
    return { status: malformed ? 400 : 403, code: err.code, message: err.message };
  }
  if (err instanceof CodedError) {
    return { status: 500, code: (err as CodedError).code, message: err.message };
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      status: e.statusCode,
      code: 'BAD_REQUEST',
      message: typeof e.message === 'string' ? e.message : 'bad request',
    };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error' };
}

/** Error handler, 404 handler and a bytes body parser for every content type. */
export function setUpServer(app: FastifyInstance, onError?: (err: unknown) => void): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });
  app.setErrorHandler((err, _req, reply) => {
    const a = describeError(err);
    if (a.status === 503) void reply.header('retry-after', '1');
    if (a.status >= 500 && a.status !== 503) onError?.(err);
    return reply
      .code(a.status)
      .header('cache-control', 'no-store')
      .send({ code: a.code, message: a.message });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: 'no such resource' }),
  );
}

/** The request body as bytes (empty when none). */
export function bodyBytes(req: FastifyRequest): Uint8Array {
  const body = req.body;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (!Buffer.isBuffer(body)) throw new AccessError('BAD_REQUEST', 'unexpected body');
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** Parses a JSON object body. */
export function jsonBody(req: FastifyRequest): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bodyBytes(req))) as unknown;
  } catch (cause) {
    throw new AccessError('BAD_REQUEST', 'the body is not UTF-8 JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AccessError('BAD_REQUEST', 'the body is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Base64 (RFC 4648 §4) to bytes, or BAD_REQUEST naming the field. */
export function base64Field(value: unknown, what: string): Uint8Array {
  if (
    typeof value !== 'string' ||
    !/^[A-Za-z0-9+/]*={0,2}$/.test(value) ||
    value.length % 4 !== 0
  ) {
    throw new AccessError('BAD_REQUEST', `${what} is not base64`);
  }
  const b = Buffer.from(value, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** A coded failure answer of another service, as the caller sees it. */
export interface RemoteRefusal {
  readonly status: number;
  readonly code: string | null;
  readonly message: string;
}

/**
 * POSTs/GETs and returns the parsed JSON answer; a network failure or a 5xx
 * becomes `unavailable`, a 4xx `refused` with the remote code.
 */
export async function fetchJson(
  fetchImpl: typeof fetch,
  url: string,
  init: RequestInit,
  opts: {
    unavailable: AccessErrorCode;
    refused: AccessErrorCode;
    what: string;
    timeoutMs?: number;
  },
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      ...init,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (cause) {
    throw new AccessError(opts.unavailable, `${opts.what} is unreachable`, {
      cause,
      evidence: { url },
    });
  }
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined; // not JSON: judged by the status below
  }
  const obj =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  if (!res.ok) {
    const code = typeof obj?.code === 'string' ? obj.code : null;
    const message = typeof obj?.message === 'string' ? obj.message : text.slice(0, 200);
    const refusal: RemoteRefusal = { status: res.status, code, message };
    throw new AccessError(
      res.status >= 500 ? opts.unavailable : opts.refused,
      `${opts.what} answered ${res.status}${code === null ? '' : ` ${code}`}: ${message}`,
      { evidence: { url, ...refusal } },
    );
  }
  if (obj === undefined) {
    throw new AccessError('RESPONSE_INVALID', `${opts.what} did not answer with a JSON object`, {
      evidence: { url, status: res.status },
    });
  }
  return obj;
}
