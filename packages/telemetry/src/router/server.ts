/**
 * The ingest router's HTTP API (fastify):
 *
 *   POST /v1/enrollments      customer-signed enrollment → co-signed, logged, witnessed → {index, receipt}
 *   POST /v1/devices          customer-signed device registration → {device}
 *   POST /v1/batches          device-signed (RFC 9421) batch → 200 stored / 202 queued / 4xx-5xx code
 *   GET  /v1/batches/:digest  device-signed → {batch, site, status, receipt?}
 *   GET  /healthz, GET /metrics
 *
 * Bodies are read as bytes (never re-serialised: the batch digest is of the
 * bytes the device sent) within per-route limits. Errors are `{code, message}`.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  BodyDigester,
  claimedAlgorithms,
  DEFAULT_TAG,
  HttpSigError,
  type HttpSigErrorCode,
  SIGNED_COMPONENTS,
  requestMessage,
  verifyContentDigest,
  verifyRequest,
} from '@glasshouse/httpsig';
import { CodedError } from '@glasshouse/errors';
import { MAX_BATCH_BYTES } from '@glasshouse/residency';
import type { TelemetryErrorCode } from '../errors.js';
import type { KeyObject } from 'node:crypto';
import type { RateLimiter, ReplayCache } from '@glasshouse/httpsig';
import type { ResidencyView } from '../view/view.js';
import type { Enrolled } from './enroll.js';
import type { DeviceRow, OutboxRow, RouterStore } from './store.js';

/** What `POST /v1/batches` and `GET /v1/batches/<digest>` answer. */
export interface BatchAnswer {
  readonly batch: string;
  readonly site: string;
  readonly status: 'stored' | 'queued' | 'refused';
  readonly receipt?: string;
  readonly index?: number;
  /** The site's refusal code. */
  readonly code?: string;
}

/**
 * What the HTTP API needs from the router (the IngestRouter implements it);
 * declared here so this module does not import the router's module back.
 */
export interface RouterHost {
  readonly view: ResidencyView;
  readonly store: RouterStore;
  readonly replay: ReplayCache;
  readonly metrics: RouterMetrics;
  readonly windowSeconds: number;
  readonly now: () => number;
  /** Per-device token buckets over every device-signed request. */
  readonly deviceLimit: RateLimiter;
  deviceKey(device: string): KeyObject | undefined;
  enroll(text: string): Promise<Enrolled>;
  registerDevice(text: string): Promise<DeviceRow>;
  acceptBatch(device: DeviceRow, bytes: Uint8Array, sha256?: Uint8Array): Promise<BatchAnswer>;
  answerOf(row: OutboxRow): BatchAnswer;
}

/** Largest enrollment or device registration body. */
const MAX_ENVELOPE_BODY = 32 * 1024;
const DIGEST_PARAM = /^sha256:[0-9a-f]{64}$/;

/** HTTP status of each refusal the router answers with. */
export const ROUTER_STATUS: Readonly<
  Partial<Record<TelemetryErrorCode | HttpSigErrorCode, number>>
> = {
  BAD_REQUEST: 400,
  BATCH_INVALID: 400,
  BATCH_TOO_LARGE: 413,
  ENROLLMENT_INVALID: 400,
  ENROLLMENT_SEQUENCE_BROKEN: 409,
  DEVICE_INVALID: 400,
  REGION_UNKNOWN: 422,
  REGION_NOT_DESIGNATED: 422,
  REGION_MISMATCH: 403,
  CUSTOMER_MISMATCH: 403,
  CUSTOMER_NOT_ENROLLED: 403,
  DEVICE_NOT_ENROLLED: 401,
  REQUEST_REPLAYED: 401,
  BATCH_NOT_FOUND: 404,
  POLICY_NOT_LOGGED: 503,
  POLICY_UNVERIFIABLE: 503,
  ENROLLMENT_NOT_WITNESSED: 504,
  RESIDENCY_LOG_FAILED: 502,
  AUTH_REPLAY_CACHE_FULL: 503,
  RATE_LIMITED: 429,
};

interface Authenticated {
  readonly device: DeviceRow;
  readonly field: string | undefined;
}
const authOf = new WeakMap<FastifyRequest, Authenticated>();

export interface RouterMetrics {
  readonly registry: Registry;
  readonly batches: Counter<'outcome'>;
  readonly delivered: Counter<'outcome' | 'site'>;
}

export function routerMetrics(): RouterMetrics {
  const registry = new Registry();
  return {
    registry,
    batches: new Counter({
      name: 'glasshouse_router_batches_total',
      help: 'Batches answered, by outcome (stored, queued, or the refusal code)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    delivered: new Counter({
      name: 'glasshouse_router_deliveries_total',
      help: 'Delivery attempts to sites, by outcome (stored, refused, retry) and site',
      labelNames: ['outcome', 'site'],
      registers: [registry],
    }),
  };
}

export function buildRouterServer(
  router: RouterHost,
  opts: { logger?: boolean } = {},
): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_ENVELOPE_BODY });
  const metrics = router.metrics;
  new Gauge({
    name: 'glasshouse_router_outbox',
    help: 'Outbox rows by status',
    labelNames: ['status'],
    registers: [metrics.registry],
    collect() {
      for (const [status, n] of Object.entries(router.store.counts())) this.set({ status }, n);
    },
  });

  // Bytes as received, for every content type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof CodedError) return sendError(reply, (err as CodedError).code, err.message);
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) {
      const code = req.routeOptions.url === '/v1/batches' ? 'BATCH_TOO_LARGE' : 'BAD_REQUEST';
      return sendError(reply, code, 'the body is over the limit', 413);
    }
    if (status !== undefined && status >= 400 && status < 500) {
      return sendError(
        reply,
        'BAD_REQUEST',
        err instanceof Error ? err.message : 'bad request',
        status,
      );
    }
    req.log.error({ err }, 'router error');
    return sendError(reply, 'INTERNAL', 'internal error', 500);
  });

  /**
   * Before any body byte is read: the declared size (Content-Length) against
   * the route's limit, then RFC 9421 §3.2, the device's signature over the
   * method, target and headers, Content-Digest included (its key: the
   * registry), then the device's rate limit. The body is checked against
   * the signed digest once read (RFC 9530 §2).
   */
  const authenticate =
    (components: readonly string[]) => async (req: FastifyRequest, reply: FastifyReply) => {
      const nowSeconds = Math.floor(router.now() / 1000);
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > req.routeOptions.bodyLimit) {
        metrics.batches.inc({ outcome: 'BATCH_TOO_LARGE' });
        // Answered without reading the body; the connection closes rather than drain it.
        void reply.header('connection', 'close');
        return sendError(reply, 'BATCH_TOO_LARGE', 'the declared body is over the limit', 413);
      }
      try {
        const verified = verifyRequest(requestMessage(req), {
          now: nowSeconds,
          tag: DEFAULT_TAG,
          windowSeconds: router.windowSeconds,
          requiredComponents: components,
          keyFor: (id) => router.deviceKey(id),
        });
        const device = router.store.device(verified.keyid);
        if (device === undefined) throw new HttpSigError('AUTH_KEY_UNKNOWN', 'unknown device');
        // Counted per device, after its signature: nobody else can spend its budget.
        const decision = router.deviceLimit.take(device.device, router.now());
        if (!decision.allowed) {
          void reply.header('retry-after', String(decision.retryAfterSeconds));
          throw new HttpSigError('RATE_LIMITED', 'too many requests from this device; retry later');
        }
        // RFC 9421 §7.2.2: a nonce is good once inside the window it could be accepted in.
        router.replay.record(
          verified.keyid,
          verified.nonce,
          verified.created + router.windowSeconds,
          nowSeconds,
        );
        const field = req.headers['content-digest'];
        authOf.set(req, { device, field: typeof field === 'string' ? field : undefined });
      } catch (err) {
        if (!(err instanceof HttpSigError)) throw err;
        const code =
          err.code === 'AUTH_KEY_UNKNOWN'
            ? 'DEVICE_NOT_ENROLLED'
            : err.code === 'AUTH_SIGNATURE_REPLAYED'
              ? 'REQUEST_REPLAYED'
              : err.code;
        metrics.batches.inc({ outcome: code });
        return sendError(reply, code, err.message, ROUTER_STATUS[code] ?? 401);
      }
    };

  app.post('/v1/enrollments', async (req, reply) => {
    const enrolled = await router.enroll(bodyText(req));
    return reply.send({ index: Number(enrolled.index), receipt: enrolled.receipt });
  });

  app.post('/v1/devices', async (req, reply) => {
    const device = await router.registerDevice(bodyText(req));
    return reply.send({ device: device.device });
  });

  app.post(
    '/v1/batches',
    {
      bodyLimit: MAX_BATCH_BYTES,
      onRequest: authenticate([...SIGNED_COMPONENTS, 'content-type']),
    },
    async (req, reply) => {
      const auth = authOf.get(req) as Authenticated;
      const body = bodyBytes(req);
      let sha256: Uint8Array | undefined;
      try {
        // RFC 9530 §2: the digest is of the content as received; a changed body is not the device's.
        if (auth.field === undefined)
          throw new HttpSigError('AUTH_DIGEST_MALFORMED', 'Content-Digest is missing');
        // Only the algorithms the field names: a second one over a 500 KB batch costs as much.
        const digester = new BodyDigester(claimedAlgorithms(auth.field));
        digester.update(body);
        const digests = digester.digests();
        verifyContentDigest(auth.field, digests);
        sha256 = digests['sha-256'];
      } catch (err) {
        if (!(err instanceof HttpSigError)) throw err;
        metrics.batches.inc({ outcome: err.code });
        return sendError(reply, err.code, err.message, 401);
      }
      let answer;
      try {
        answer = await router.acceptBatch(auth.device, body, sha256);
      } catch (err) {
        if (err instanceof CodedError) metrics.batches.inc({ outcome: (err as CodedError).code });
        throw err;
      }
      metrics.batches.inc({ outcome: answer.status });
      const status = answer.status === 'stored' ? 200 : answer.status === 'queued' ? 202 : 409;
      return reply.code(status).send(answer);
    },
  );

  app.get<{ Params: { digest: string } }>(
    '/v1/batches/:digest',
    { onRequest: authenticate(['@method', '@authority', '@path']) },
    async (req, reply) => {
      const auth = authOf.get(req) as Authenticated;
      const digest = req.params.digest;
      const row = DIGEST_PARAM.test(digest) ? router.store.get(digest) : undefined;
      // Only the device that sent it learns anything about it.
      if (row?.device !== auth.device.device) {
        return sendError(reply, 'BATCH_NOT_FOUND', 'no batch with this digest from this device');
      }
      return reply.send(router.answerOf(row));
    },
  );

  app.get('/healthz', async (_req, reply) => {
    const view = router.view;
    return reply.header('cache-control', 'no-store').send({
      ok: view.lastError === undefined,
      residencyLog: {
        size: Number(view.size),
        lastError: view.lastError?.code ?? null,
        policy: policyOrNull(router),
      },
      outbox: router.store.counts(),
    });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}

function policyOrNull(router: RouterHost): string | null {
  try {
    return router.view.currentPolicy().digest;
  } catch {
    return null; // no usable policy: healthz says so with null
  }
}

function bodyBytes(req: FastifyRequest): Uint8Array {
  const body = req.body;
  return body instanceof Uint8Array ? body : new Uint8Array(0);
}

function bodyText(req: FastifyRequest): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bodyBytes(req));
}

function sendError(
  reply: FastifyReply,
  code: string,
  message: string,
  status?: number,
): FastifyReply {
  return reply
    .code(status ?? (ROUTER_STATUS as Partial<Record<string, number>>)[code] ?? 400)
    .header('cache-control', 'no-store')
    .send({ code, message });
}
