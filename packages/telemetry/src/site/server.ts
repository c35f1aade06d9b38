/**
 * The data site's HTTP API:
 *
 * - `POST /v1/batches` — from the router only (RFC 9421 signed, httpsig
 *   allow-list), body = the exact batch bytes, `Glasshouse-Policy` header.
 * - `GET /reputation/<sha256>`, `POST /reputation` — the cloud lookup.
 * - `POST /v1/read` — the access gateway only (RFC 9421 signed, allow-list
 *   entry `POST /v1/read`): a customer's stored batches, sealed.
 * - `GET /v1/summary` — regions held, batch and event counts (public).
 * - `GET /log/checkpoint`, `GET /log/tile/…` — the ingest log's
 *   c2sp.org/tlog-tiles read API.
 * - `GET /healthz`, `GET /metrics`.
 *
 * Listening is the caller's business.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { CodedError } from '@glasshouse/errors';
import {
  guardServer,
  parseBodiesAsBytes,
  verifiedSha256,
  writeCaller,
  type RateLimitOptions,
  type WriterPolicy,
} from '@glasshouse/httpsig';
import { MAX_BATCH_BYTES } from '@glasshouse/residency';
import { TlogError, parseTilePath } from '@glasshouse/tlog';
import { TelemetryError, type TelemetryErrorCode } from '../errors.js';
import { LookupCoalescer } from './lookup-coalescer.js';
import {
  MAX_LOOKUP_BODY_BYTES,
  MAX_LOOKUP_HASHES,
  checkHash,
  parseLookupBody,
  reputationOf,
} from './reputation.js';
import { MAX_READ_BODY_BYTES, parseReadRequest, readAnswerJson, readBatches } from './read.js';
import type { DataSite } from './site.js';

export interface SiteServerOptions {
  readonly site: DataSite;
  /**
   * Who may POST batches (the router's caller key) and read them (the
   * access gateway's key, `POST /v1/read`). Undefined leaves the batch
   * write API open (only for tests); the read route then refuses everyone.
   */
  readonly writers: WriterPolicy | undefined;
  readonly rateLimit?: RateLimitOptions;
  /** Passed to fastify (pino); default off. */
  readonly logger?: boolean;
}

export const POLICY_HEADER = 'glasshouse-policy';

/** HTTP status of each code the API answers with (everything else is a 500). */
const STATUS: Partial<Record<TelemetryErrorCode, number>> = {
  BATCH_TOO_LARGE: 413,
  BATCH_INVALID: 400,
  BAD_REQUEST: 400,
  POLICY_HEADER_INVALID: 400,
  READ_NOT_AUTHORIZED: 403,
  REGION_NOT_DESIGNATED_HERE: 403,
  ENROLLMENT_MISMATCH: 403,
  // The site's residency view may lag the router's: retryable.
  POLICY_UNKNOWN: 409,
  CUSTOMER_NOT_ENROLLED: 409,
  HASH_INVALID: 400,
  TOO_MANY_HASHES: 413,
  NOT_FOUND: 404,
  RECEIPT_TIMEOUT: 504,
  INGEST_LOG_FAILED: 503,
  CLOSED: 503,
};

/**
 * The lookup answers' JSON Schema (residency's `Reputation`): fastify compiles
 * a serializer from it, several times faster than JSON.stringify on a batch
 * answer of 10,000 results. Every field is required, so a missing one fails
 * the request instead of vanishing from the answer.
 */
const REPUTATION = {
  type: 'object',
  required: ['sha256', 'verdict', 'firstSeen', 'detections', 'source'],
  properties: {
    sha256: { type: 'string' },
    verdict: { type: 'string' },
    firstSeen: { type: ['string', 'null'] },
    detections: { type: 'integer' },
    source: { type: 'array', items: { type: 'string' } },
  },
} as const;
const LOOKUP_ANSWER = {
  type: 'object',
  required: ['results'],
  properties: { results: { type: 'array', items: REPUTATION } },
} as const;

// c2sp.org/tlog-tiles: tiles are immutable; the checkpoint is not.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const MUTABLE = 'no-cache';

export function buildSiteServer(opts: SiteServerOptions): FastifyInstance {
  const { ingest, storage, log, metrics } = opts.site;
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_LOOKUP_BODY_BYTES });
  guardServer(app, {
    writers: opts.writers,
    rateLimit: opts.rateLimit,
    // A lookup is a read that needs a body: anyone may ask.
    publicRoutes: ['POST /reputation'],
    registry: metrics.registry,
  });

  // Batches are hashed as the exact bytes received; nothing parses them before the site does.
  // A signed body arrives read and checked by the httpsig hook: it is taken as it is.
  parseBodiesAsBytes(app);

  app.setErrorHandler((err, req, reply) => {
    const batchRoute = req.url.startsWith('/v1/batches');
    const { status, code, message } = describeError(err, batchRoute);
    if (batchRoute) metrics.refused.inc({ code });
    if (status === 503) void reply.header('retry-after', '1');
    if (status >= 500 && status !== 503 && status !== 504) {
      app.log.error({ err }, 'request failed');
    }
    return reply.code(status).header('cache-control', 'no-store').send({ code, message });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: 'no such resource' }),
  );

  app.post('/v1/batches', { bodyLimit: MAX_BATCH_BYTES }, async (req, reply) => {
    const started = performance.now();
    const header = req.headers[POLICY_HEADER];
    const sha256 = Buffer.isBuffer(req.body) ? verifiedSha256(req.body) : undefined;
    const result = await ingest.ingest(
      bodyBytes(req),
      typeof header === 'string' ? header : undefined,
      sha256,
    );
    metrics.ackLatency.observe((performance.now() - started) / 1000);
    return reply.header('cache-control', 'no-store').send({
      batch: result.batch,
      index: Number(result.index),
      receipt: result.receipt,
    });
  });

  // Issue 17 §3: the one read path to stored events, for the access gateway's key only.
  app.post('/v1/read', { bodyLimit: MAX_READ_BODY_BYTES }, async (req, reply) => {
    // Fail closed: without a verified signature (e.g. a server built without writers) nobody reads.
    if (writeCaller(req) === undefined) {
      throw new TelemetryError('READ_NOT_AUTHORIZED', 'reads need the access gateway signature');
    }
    const request = parseReadRequest(bodyBytes(req));
    const answer = await readBatches(storage, ingest.siteId, request);
    metrics.reads.inc();
    return reply.header('cache-control', 'no-store').send(readAnswerJson(answer));
  });

  const singles = new LookupCoalescer((hashes) => storage.reputation(hashes), MAX_LOOKUP_HASHES);
  // Bound once: a labelled inc() would hash its labels on every lookup.
  const singleLookups = metrics.lookups.labels({ kind: 'single' });
  const batchLookups = metrics.lookups.labels({ kind: 'batch' });
  app.get(
    '/reputation/:sha256',
    { schema: { response: { 200: REPUTATION } } },
    async (req, reply) => {
      const hash = checkHash((req.params as { sha256: string }).sha256);
      const facts = await singles.facts(hash);
      singleLookups.inc();
      return reply.header('cache-control', 'no-store').send(reputationOf(facts));
    },
  );

  app.post('/reputation', { schema: { response: { 200: LOOKUP_ANSWER } } }, async (req, reply) => {
    const hashes = parseLookupBody(bodyBytes(req));
    const facts = await storage.reputation(hashes);
    batchLookups.inc(hashes.length);
    return reply.header('cache-control', 'no-store').send({ results: facts.map(reputationOf) });
  });

  app.get('/v1/summary', async (_req, reply) => {
    const [summary, cp] = await Promise.all([storage.summary(), log.latest()]);
    return reply.header('cache-control', 'no-store').send({
      site: ingest.siteId,
      origin: log.origin,
      regions: summary.regions,
      batches: summary.batches,
      events: summary.events,
      deletedBatches: summary.deletedBatches,
      logSize: Number(cp.checkpoint.size),
    });
  });

  app.get('/log/checkpoint', async (_req, reply) => {
    const cp = await log.latest();
    return reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', MUTABLE)
      .send(cp.note);
  });

  app.get('/log/tile/*', async (req, reply) => {
    const path = `tile/${(req.params as { '*': string })['*']}`;
    try {
      parseTilePath(path);
    } catch (cause) {
      if (cause instanceof TlogError) {
        throw new TelemetryError('BAD_REQUEST', 'not a tlog-tiles path', {
          cause,
          evidence: { path: path.slice(0, 80) },
        });
      }
      throw cause;
    }
    const data = await log.readTile(path);
    if (data === null) throw new TelemetryError('NOT_FOUND', `${path} does not exist (yet)`);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', IMMUTABLE)
      .send(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });

  app.get('/healthz', async (_req, reply) => {
    // A storage that can serve nothing (its thread stopped) makes the site unhealthy at once.
    const failure = storage.failure?.();
    if (failure !== undefined) {
      const code = failure instanceof TelemetryError ? failure.code : 'STORAGE_FAILED';
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .send({ ok: false, site: ingest.siteId, code, message: failure.message });
    }
    const cp = await log.latest();
    return reply.header('cache-control', 'no-store').send({
      ok: true,
      site: ingest.siteId,
      origin: log.origin,
      size: Number(cp.checkpoint.size),
      witnessing: log.witnessingMode,
      integrating: log.integrating,
    });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = `${await metrics.registry.metrics()}\n${await log.metrics.metricsText()}`;
    return reply
      .header('content-type', metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(text);
  });

  return app;
}

function bodyBytes(req: FastifyRequest): Uint8Array {
  const body = req.body;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (!Buffer.isBuffer(body)) throw new TelemetryError('BAD_REQUEST', 'unexpected body');
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

function describeError(
  err: unknown,
  batchRoute: boolean,
): { status: number; code: string; message: string } {
  if (err instanceof TelemetryError) {
    return { status: STATUS[err.code] ?? 500, code: err.code, message: err.message };
  }
  if (err instanceof CodedError) {
    const coded = err as CodedError;
    return { status: 500, code: coded.code, message: coded.message };
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code =
      e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? batchRoute
          ? 'BATCH_TOO_LARGE'
          : 'TOO_MANY_HASHES'
        : 'BAD_REQUEST';
    return {
      status: e.statusCode,
      code,
      message: typeof e.message === 'string' ? e.message : 'bad request',
    };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error' };
}
