/**
 * The witness's HTTP API (c2sp.org/tlog-witness v1.0.0), with the submission
 * prefix and the monitoring prefix both at the server root:
 *
 *     POST /add-checkpoint                 the spec's add-checkpoint
 *     GET  /<hex SHA-256 of origin>/checkpoint   latest cosigned checkpoint
 *     GET  /healthz, GET /metrics
 *
 * Every refusal is the spec's status code with a one-line text reason; no
 * input crashes the process. Listening is the caller's business.
 */
import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { guardServer, type RateLimitOptions } from '@glasshouse/httpsig';
import { TLOG_SIZE_CONTENT_TYPE } from './client.js';
import { WitnessError } from './errors.js';
import type { WitnessStateStore } from './state.js';
import { MAX_REQUEST_SIZE, type AddCheckpointResult, type Witness } from './witness.js';

export interface WitnessServerOptions {
  readonly witness: Witness;
  /** The state the witness uses: read for the monitoring path and health. */
  readonly state: WitnessStateStore;
  /** Fastify's logger (pino); default off. */
  readonly logger?: boolean;
  /**
   * Told about refusals that may be evidence of log misbehaviour: a proof
   * that does not verify (422) and a second root for a cosigned size (409).
   * c2sp.org/tlog-witness lets a witness keep these.
   */
  readonly onSuspicious?: (result: Exclude<AddCheckpointResult, { status: 200 }>) => void;
  /**
   * A per-client limit on add-checkpoint, which stays open by design: the
   * checkpoint's own signature says which log sent it. Default none.
   */
  readonly rateLimit?: RateLimitOptions;
}

const TEXT = 'text/plain; charset=utf-8';
const ORIGIN_HASH = /^[0-9a-f]{64}$/;

/** Prometheus metrics of one witness server (its own registry). */
export class WitnessMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'status'>;
  readonly duration: Histogram;
  readonly cosignedSize: Gauge<'origin'>;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'glasshouse_witness_add_checkpoint_total',
      help: 'add-checkpoint requests answered, by HTTP status',
      labelNames: ['status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'glasshouse_witness_add_checkpoint_duration_seconds',
      help: 'Time to answer add-checkpoint, persistence included',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.cosignedSize = new Gauge({
      name: 'glasshouse_witness_cosigned_size',
      help: 'Tree size of the latest checkpoint this process cosigned, by log origin',
      labelNames: ['origin'],
      registers,
    });
  }
}

/** The hex SHA-256 of an origin line: the path segment of its monitoring URL. */
export function originPathSegment(origin: string): string {
  return createHash('sha256').update(origin, 'utf8').digest('hex');
}

export function buildWitnessServer(opts: WitnessServerOptions): FastifyInstance & {
  metrics: WitnessMetrics;
} {
  const { witness, state } = opts;
  const metrics = new WitnessMetrics();
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_REQUEST_SIZE });
  guardServer(app, {
    writers: undefined,
    rateLimit: undefined,
    publicRoutes: ['POST /add-checkpoint'],
    ...(opts.rateLimit === undefined ? {} : { publicRateLimit: opts.rateLimit }),
    registry: metrics.registry,
    format: 'text',
  });

  // The spec names no request media type: the body is read as bytes whatever the client calls it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((err: Error & { code?: unknown; statusCode?: unknown }, _req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // c2sp.org/tlog-witness answers malformed requests with 400; an oversize body is one.
      return sendText(reply, 400, `REQUEST_TOO_LARGE: the body is over ${MAX_REQUEST_SIZE} bytes`);
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return sendText(reply, status === 415 ? 400 : status, `REQUEST_MALFORMED: ${err.message}`);
    }
    app.log.error({ err }, 'request failed');
    const code = err instanceof WitnessError ? err.code : 'INTERNAL_ERROR';
    return sendText(reply, 500, `${code}: the witness could not answer`);
  });
  app.setNotFoundHandler((_req, reply) => sendText(reply, 404, 'NOT_FOUND: no such resource'));

  app.post('/add-checkpoint', async (req, reply) => {
    const started = process.hrtime.bigint();
    const body = req.body instanceof Buffer ? req.body : Buffer.alloc(0);
    const result = await witness.addCheckpoint(body);
    metrics.requests.inc({ status: String(result.status) });
    metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    if (result.status === 422 || (result.status === 409 && result.code === 'ROOT_MISMATCH')) {
      opts.onSuspicious?.(result);
      logResult(app, result);
    }
    switch (result.status) {
      case 200:
        metrics.cosignedSize.set(
          { origin: result.checkpoint.origin },
          Number(result.checkpoint.size),
        );
        // c2sp.org/tlog-witness: the body is one or more note signature lines
        return reply
          .code(200)
          .header('content-type', TEXT)
          .header('cache-control', 'no-store')
          .send(result.cosignatures);
      case 409:
        // c2sp.org/tlog-witness: the latest cosigned size, a newline, Content-Type text/x.tlog.size
        return reply
          .code(409)
          .header('content-type', TLOG_SIZE_CONTENT_TYPE)
          .header('cache-control', 'no-store')
          .send(`${result.size}\n`);
      case 400:
      case 403:
      case 404:
      case 422:
        return sendText(reply, result.status, `${result.code}: ${result.reason}`);
    }
  });
  // c2sp.org/tlog-witness: "The request MUST be an HTTP POST."
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/add-checkpoint',
    handler: (_req, reply) =>
      sendText(reply.header('allow', 'POST'), 405, 'METHOD_NOT_ALLOWED: add-checkpoint is a POST'),
  });

  // The monitoring path: the latest cosigned checkpoint of the log whose origin hashes to the segment.
  app.get<{ Params: { originHash: string } }>('/:originHash/checkpoint', async (req, reply) => {
    const { originHash } = req.params;
    if (!ORIGIN_HASH.test(originHash)) {
      return sendText(reply, 404, 'NOT_FOUND: the path is the lowercase hex SHA-256 of an origin');
    }
    const log = (await state.listLogs()).find((l) => originPathSegment(l.origin) === originHash);
    const latest = log === undefined ? null : await state.getLatest(log.origin);
    if (latest === null) {
      return sendText(reply, 404, 'NOT_FOUND: no cosigned checkpoint for this origin');
    }
    return reply
      .code(200)
      .header('content-type', TEXT)
      .header('cache-control', 'no-cache')
      .send(latest.note);
  });

  app.get('/healthz', async (_req, reply) => {
    const logs = await state.listLogs();
    return reply.header('cache-control', 'no-store').send({
      status: 'ok',
      name: witness.name,
      verifierKey: witness.verifierKey,
      logs: logs.length,
    });
  });

  app.get('/metrics', async (_req, reply) =>
    reply
      .header('content-type', metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(await metrics.registry.metrics()),
  );

  return Object.assign(app, { metrics });
}

function sendText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', TEXT)
    .header('cache-control', 'no-store')
    .send(`${text}\n`);
}

/** Refusals that may show log misbehaviour are logged with their evidence (c2sp.org/tlog-witness allows it). */
function logResult(app: FastifyInstance, result: AddCheckpointResult): void {
  if (result.status === 422) {
    app.log.warn({ code: result.code, evidence: result.evidence }, result.reason);
  } else if (result.status === 409 && result.code === 'ROOT_MISMATCH') {
    app.log.warn({ code: result.code, evidence: result.evidence }, result.reason);
  }
}
