/**
 * The gateway's HTTP API (vendor side). Principals sign their writes with
 * their registered Ed25519 key (RFC 9421; the allow-list is the principal
 * registry); approvers' decisions and the supervisor's reviews are
 * authenticated by their own DSSE signature.
 *
 * - `POST /v1/access` — principal: `{site, customer, dataClass, scope,
 *   justification, approval?}` → the data and the record's receipt; the
 *   `Server-Timing` header says where the access's time went.
 * - `POST /v1/requests` — principal: body = the access request bytes → the request.
 * - `GET /v1/requests[?customer=&status=]`, `GET /v1/requests/<digest>`.
 * - `POST /v1/requests/<digest>/decisions` — body = an approval envelope.
 * - `GET /v1/break-glass`, `GET /v1/break-glass/<record digest>`,
 *   `POST /v1/break-glass/<record digest>/review` — body = the review envelope.
 * - `GET /healthz`.
 *
 * Listening is the caller's business.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { AllowList, guardServer, type RateLimitOptions, writeCaller } from '@glasshouse/httpsig';
import { DIGEST } from '@glasshouse/residency';
import type {
  Approvals,
  BreakGlassView,
  RequestStatus,
  RequestView,
} from '../approvals/service.js';
import { AccessError } from '../errors.js';
import { b64, bodyBytes, jsonBody, setUpServer } from '../http.js';
import type { RegisteredPrincipal } from '../principals.js';
import type { AccessAsk, AccessAnswer, Gateway } from './gateway.js';
import { serverTiming } from './timing.js';

export const GATEWAY_PRINCIPAL_ROUTES = ['POST /v1/access', 'POST /v1/requests'] as const;
const MAX_ASK_BYTES = 64 * 1024;
const MAX_ENVELOPE_BYTES = 8 * 1024;

export interface GatewayServerOptions {
  readonly gateway: Gateway;
  readonly approvals: Approvals;
  readonly principals: ReadonlyMap<string, RegisteredPrincipal>;
  readonly rateLimit?: RateLimitOptions;
  /** Seconds a signature's `created` may be off (default 60). */
  readonly windowSeconds?: number;
  readonly logger?: boolean;
}

/** The allow-list of a principal registry: each principal may ask for access and file requests. */
export function principalAllowList(
  principals: ReadonlyMap<string, RegisteredPrincipal>,
): AllowList {
  return new AllowList(
    [...principals.values()].map((p) => ({
      name: p.pseudonym,
      publicKey: p.key,
      allow: [...GATEWAY_PRINCIPAL_ROUTES],
    })),
  );
}

export function buildGatewayServer(opts: GatewayServerOptions): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_ASK_BYTES });
  guardServer(app, {
    writers: {
      allowList: principalAllowList(opts.principals),
      ...(opts.windowSeconds === undefined ? {} : { windowSeconds: opts.windowSeconds }),
    },
    rateLimit: opts.rateLimit,
    // Authenticated by the DSSE signature they carry.
    publicRoutes: ['POST /v1/requests/:digest/decisions', 'POST /v1/break-glass/:record/review'],
  });
  setUpServer(app, (err) => {
    app.log.error({ err }, 'gateway request failed');
  });
  const principalOf = (req: FastifyRequest): RegisteredPrincipal => {
    const caller = writeCaller(req);
    const p = caller === undefined ? undefined : opts.principals.get(caller.name);
    if (p === undefined) {
      throw new AccessError('PRINCIPAL_UNKNOWN', 'the signer is not a registered principal');
    }
    return p;
  };

  app.post('/v1/access', async (req, reply) => {
    const principal = principalOf(req);
    const answer = await opts.gateway.access(principal, parseAsk(jsonBody(req)));
    return reply
      .header('cache-control', 'no-store')
      .header('server-timing', serverTiming(answer.timing))
      .send(answerJson(answer));
  });

  app.post('/v1/requests', async (req, reply) => {
    const view = await opts.approvals.submit(bodyBytes(req), principalOf(req));
    return reply.header('cache-control', 'no-store').send(requestJson(view));
  });

  app.get('/v1/requests', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const status = q.status;
    if (
      status !== undefined &&
      !['pending', 'approved', 'denied', 'expired'].includes(status as string)
    ) {
      throw new AccessError('BAD_REQUEST', 'status is pending, approved, denied or expired');
    }
    if (q.customer !== undefined && typeof q.customer !== 'string') {
      throw new AccessError('BAD_REQUEST', 'customer is one pseudonym');
    }
    const list = await opts.approvals.list({
      ...(typeof q.customer === 'string' ? { customer: q.customer } : {}),
      ...(status === undefined ? {} : { status: status as RequestStatus }),
    });
    return reply.header('cache-control', 'no-store').send({ requests: list.map(requestJson) });
  });

  app.get('/v1/requests/:digest', async (req, reply) => {
    const view = await opts.approvals.get(digestParam(req, 'digest'));
    return reply.header('cache-control', 'no-store').send(requestJson(view));
  });

  app.post(
    '/v1/requests/:digest/decisions',
    { bodyLimit: MAX_ENVELOPE_BYTES },
    async (req, reply) => {
      const d = await opts.approvals.decide(
        digestParam(req, 'digest'),
        new TextDecoder().decode(bodyBytes(req)),
      );
      return reply.header('cache-control', 'no-store').send({
        request: d.request,
        role: d.role,
        decision: d.decision,
        decidedAt: d.decidedAt,
        expiresAt: d.expiresAt,
      });
    },
  );

  app.get('/v1/break-glass', async (_req, reply) => {
    const list = await opts.approvals.breakGlassAccesses();
    return reply.header('cache-control', 'no-store').send({ accesses: list.map(breakGlassJson) });
  });

  app.get('/v1/break-glass/:record', async (req, reply) => {
    const record = digestParam(req, 'record');
    const found = (await opts.approvals.breakGlassAccesses()).find((b) => b.record === record);
    if (found === undefined) {
      throw new AccessError('REQUEST_NOT_FOUND', 'no break-glass access with this record');
    }
    return reply.header('cache-control', 'no-store').send(breakGlassJson(found));
  });

  app.post(
    '/v1/break-glass/:record/review',
    { bodyLimit: MAX_ENVELOPE_BYTES },
    async (req, reply) => {
      const r = await opts.approvals.review(
        digestParam(req, 'record'),
        new TextDecoder().decode(bodyBytes(req)),
      );
      return reply.header('cache-control', 'no-store').send(r);
    },
  );

  app.get('/healthz', async (_req, reply) => reply.send({ ok: true }));
  return app;
}

function digestParam(req: FastifyRequest, name: string): string {
  const v = (req.params as Record<string, unknown>)[name];
  if (typeof v !== 'string' || !DIGEST.test(v)) {
    throw new AccessError('BAD_REQUEST', `${name} is not sha256:<64 hex>`);
  }
  return v;
}

const ASK_FIELDS = ['site', 'customer', 'dataClass', 'scope', 'justification', 'approval'];

/** The ask's shape; every field is checked again by the access record's own encoder. */
export function parseAsk(v: Record<string, unknown>): AccessAsk {
  for (const k of Object.keys(v)) {
    if (!ASK_FIELDS.includes(k))
      throw new AccessError('BAD_REQUEST', `unknown field ${k.slice(0, 40)}`);
  }
  for (const k of ['site', 'customer', 'dataClass'] as const) {
    if (typeof v[k] !== 'string') throw new AccessError('BAD_REQUEST', `${k} is missing`);
  }
  if (typeof v.scope !== 'object' || v.scope === null) {
    throw new AccessError('BAD_REQUEST', 'scope is missing');
  }
  if (v.approval !== undefined && v.approval !== null && typeof v.approval !== 'string') {
    throw new AccessError('BAD_REQUEST', 'approval is a request digest');
  }
  const justification = v.justification;
  if (
    justification !== undefined &&
    (typeof justification !== 'object' || justification === null)
  ) {
    throw new AccessError('BAD_REQUEST', 'justification is an object');
  }
  return {
    site: v.site as string,
    customer: v.customer as string,
    dataClass: v.dataClass as string,
    scope: v.scope as AccessAsk['scope'],
    justification: justification as AccessAsk['justification'],
    approval: v.approval ?? null,
  };
}

export function answerJson(a: AccessAnswer): Record<string, unknown> {
  return {
    record: new TextDecoder().decode(a.record),
    digest: a.digest,
    index: Number(a.index),
    receipt: a.receipt,
    breakGlass: a.breakGlass,
    batches: a.batches,
    missing: a.missing,
    truncated: a.truncated,
  };
}

function requestJson(v: RequestView): Record<string, unknown> {
  return {
    digest: v.digest,
    status: v.status,
    request: b64(v.bytes),
    customer: v.request.customer,
    site: v.request.site,
    dataClass: v.request.dataClass,
    accessor: v.request.accessor.principal,
    justification: v.request.justification.code,
    requestedAt: v.request.requestedAt,
    expiresAt: v.request.expiresAt,
    approvals: v.decisions.map((d) => d.envelope),
    decisions: v.decisions.map((d) => ({
      role: d.role,
      decision: d.decision,
      decidedAt: d.decidedAt,
      expiresAt: d.expiresAt,
    })),
  };
}

function breakGlassJson(b: BreakGlassView): Record<string, unknown> {
  return {
    record: b.record,
    index: Number(b.index),
    customer: b.customer,
    principal: b.principal,
    loggedAt: b.loggedAt,
    reviewDue: b.reviewDue,
    overdue: b.overdue,
    review: b.review,
  };
}
