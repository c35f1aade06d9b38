/**
 * The key release's HTTP API:
 *
 * - `POST /v1/release/prepare` — the gateway only (RFC 9421 signed, allow-list
 *   entry `POST /v1/release/prepare`); body JSON `{record, request?,
 *   approvals?, batches}` (base64): every check but the receipt's, the
 *   durable `prepared` audit row; answer `{ticket, record, expires}`.
 * - `POST /v1/release` — the gateway only (allow-list entry `POST
 *   /v1/release`); body JSON `{ticket, record, receipt}` (record: the
 *   prepared record's digest) or, in one call, `{record, receipt, request?,
 *   approvals?, batches}` (base64); answer `{record, index, breakGlass,
 *   keys: [{batch, key}]}` (key base64).
 * - `GET /healthz`.
 *
 * Listening is the caller's business.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { guardServer, type RateLimitOptions, type WriterPolicy } from '@glasshouse/httpsig';
import { AccessError } from '../errors.js';
import { b64, base64Field, jsonBody, setUpServer } from '../http.js';
import { MAX_RELEASE_BATCHES, type PrepareRequest, type ReleaseRequest } from './check.js';
import type { KeyRelease, ReleasePreparedRequest } from './service.js';

/** 500 batches of up to 1 MiB, base64: the site's read answer is capped at 32 MiB of batches. */
export const MAX_RELEASE_BODY_BYTES = 48 * 1024 * 1024;

export interface KeyReleaseServerOptions {
  readonly keyRelease: KeyRelease;
  /**
   * Who may ask for keys: the gateway's caller key with `POST /v1/release`
   * and `POST /v1/release/prepare`. Required.
   */
  readonly writers: WriterPolicy;
  readonly rateLimit?: RateLimitOptions;
  readonly logger?: boolean;
}

export function buildKeyReleaseServer(opts: KeyReleaseServerOptions): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_RELEASE_BODY_BYTES });
  guardServer(app, { writers: opts.writers, rateLimit: opts.rateLimit });
  setUpServer(app, (err) => {
    app.log.error({ err }, 'key release failed');
  });

  app.post('/v1/release/prepare', async (req, reply) => {
    const prepared = await opts.keyRelease.prepare(parsePrepareBody(jsonBody(req)));
    return reply.header('cache-control', 'no-store').send(prepared);
  });

  app.post('/v1/release', async (req, reply) => {
    const body = jsonBody(req);
    const released =
      body.ticket === undefined
        ? await opts.keyRelease.release(parseReleaseBody(body))
        : await opts.keyRelease.releasePrepared(parseReleasePreparedBody(body));
    return reply.header('cache-control', 'no-store').send({
      record: released.record,
      index: Number(released.index),
      breakGlass: released.breakGlass,
      keys: released.keys.map((k) => ({ batch: k.batch, key: b64(k.key) })),
    });
  });

  app.get('/healthz', async (_req, reply) => reply.send({ ok: true }));
  return app;
}

export function parseReleaseBody(v: Record<string, unknown>): ReleaseRequest {
  onlyFields(v, ['record', 'receipt', 'request', 'approvals', 'batches']);
  if (typeof v.receipt !== 'string') throw new AccessError('BAD_REQUEST', 'receipt is missing');
  return { ...releaseParts(v), receipt: v.receipt };
}

export function parsePrepareBody(v: Record<string, unknown>): PrepareRequest {
  onlyFields(v, ['record', 'request', 'approvals', 'batches']);
  return releaseParts(v);
}

const TICKET = /^[A-Za-z0-9_-]{43}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function parseReleasePreparedBody(v: Record<string, unknown>): ReleasePreparedRequest {
  onlyFields(v, ['ticket', 'record', 'receipt']);
  if (typeof v.ticket !== 'string' || !TICKET.test(v.ticket)) {
    throw new AccessError('BAD_REQUEST', 'ticket is not a prepared-release ticket');
  }
  if (typeof v.record !== 'string' || !DIGEST.test(v.record)) {
    throw new AccessError('BAD_REQUEST', 'record is not a sha256:<hex> digest');
  }
  if (typeof v.receipt !== 'string') throw new AccessError('BAD_REQUEST', 'receipt is missing');
  return { ticket: v.ticket, record: v.record, receipt: v.receipt };
}

function onlyFields(v: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k))
      throw new AccessError('BAD_REQUEST', `unknown field ${k.slice(0, 40)}`);
  }
}

function releaseParts(v: Record<string, unknown>): PrepareRequest {
  if (!Array.isArray(v.batches) || v.batches.length > MAX_RELEASE_BATCHES) {
    throw new AccessError('BAD_REQUEST', `batches is not a list of at most ${MAX_RELEASE_BATCHES}`);
  }
  const approvals = v.approvals ?? [];
  if (
    !Array.isArray(approvals) ||
    approvals.length > 8 ||
    approvals.some((a) => typeof a !== 'string')
  ) {
    throw new AccessError('BAD_REQUEST', 'approvals is not a list of at most 8 envelopes');
  }
  return {
    record: base64Field(v.record, 'record'),
    request: v.request === undefined ? undefined : base64Field(v.request, 'request'),
    approvals: approvals as string[],
    batches: (v.batches as unknown[]).map((b, i) => base64Field(b, `batches[${i}]`)),
  };
}
