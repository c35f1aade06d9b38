/**
 * The server side, as fastify hooks on one instance:
 *
 * - `requireSignedWrites(app, …)`: every route whose method is not GET, HEAD
 *   or OPTIONS needs a valid RFC 9421 signature by a caller the allow-list
 *   lets call that route, unless the route is listed as public. Headers are
 *   checked before the body is read (onRequest); the body is hashed as it is
 *   read (preParsing) and compared with the signed Content-Digest before the
 *   handler runs (preHandler). Refusals answer 401/403 with a code, are
 *   counted by reason and logged with the claimed key id.
 * - `rateLimit(app, …)`: per-client token buckets; 429 with Retry-After.
 */
import { Readable } from 'node:stream';
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Registry } from 'prom-client';
import type { AllowList } from './allowlist.js';
import type { HttpRequestMessage } from './base.js';
import { DEFAULT_TAG, SIGNED_COMPONENTS } from './client.js';
import { BodyDigester, claimedAlgorithms, verifyContentDigest } from './digest.js';
import { HttpSigError, type HttpSigErrorCode } from './errors.js';
import { RateLimiter, type RateLimitOptions } from './ratelimit.js';
import { ReplayCache } from './replay.js';
import { verifyRequest } from './signature.js';

/** HTTP status of each refusal. */
export const REFUSAL_STATUS: Readonly<Partial<Record<HttpSigErrorCode, number>>> = {
  AUTH_SIGNATURE_MISSING: 401,
  AUTH_SIGNATURE_MALFORMED: 401,
  AUTH_ALGORITHM_UNSUPPORTED: 401,
  AUTH_COMPONENTS_INCOMPLETE: 401,
  AUTH_COMPONENT_UNSUPPORTED: 401,
  AUTH_COMPONENT_MISSING: 401,
  AUTH_SIGNATURE_STALE: 401,
  AUTH_KEY_UNKNOWN: 401,
  AUTH_SIGNATURE_INVALID: 401,
  AUTH_DIGEST_MALFORMED: 401,
  AUTH_DIGEST_MISMATCH: 401,
  AUTH_SIGNATURE_REPLAYED: 401,
  AUTH_KEY_NOT_ALLOWED: 403,
  AUTH_REPLAY_CACHE_FULL: 503,
  RATE_LIMITED: 429,
};

export type RefusalFormat = 'json' | 'text';

export interface SignedWritesOptions {
  readonly allowList: AllowList;
  /** Write routes anyone may call (authenticated by their content), e.g. `POST /add-checkpoint`. */
  readonly publicRoutes?: readonly string[];
  /** How far `created` may be from the server's clock, either way. Default 60 s. */
  readonly windowSeconds?: number;
  readonly tag?: string;
  readonly replayCache?: ReplayCache;
  /** Where the counters go (the service's /metrics registry); default a registry of their own. */
  readonly registry?: Registry;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** `{code, message}` JSON (default) or a `CODE: message` text line. */
  readonly format?: RefusalFormat;
}

export interface SignedWrites {
  readonly registry: Registry;
  readonly refused: Counter<'reason' | 'route'>;
  readonly accepted: Counter<'caller' | 'route'>;
}

/** What a verified write carries into its handler. */
export interface WriteCaller {
  readonly keyid: string;
  readonly name: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Pending {
  readonly keyid: string;
  readonly name: string;
  readonly route: string;
}

const pendingOf = new WeakMap<FastifyRequest, Pending>();
const callerOf = new WeakMap<FastifyRequest, WriteCaller>();

/** The verified caller of a signed write, for handlers that record who wrote. */
export function writeCaller(req: FastifyRequest): WriteCaller | undefined {
  return callerOf.get(req);
}

/** `METHOD /pattern` of the route a request matched, or undefined for a 404. */
export function routeOf(req: FastifyRequest): string | undefined {
  const url = req.routeOptions.url;
  return url === undefined ? undefined : `${req.method} ${url}`;
}

/** The request as RFC 9421 sees it: absolute URL from the Host field and the request target. */
export function requestMessage(req: FastifyRequest): HttpRequestMessage {
  return {
    method: req.method,
    url: `${req.protocol}://${req.headers.host ?? ''}${req.url}`,
    headers: req.headers,
  };
}

export function requireSignedWrites(
  app: FastifyInstance,
  options: SignedWritesOptions,
): SignedWrites {
  const { allowList } = options;
  const publicRoutes = new Set(options.publicRoutes ?? []);
  const windowSeconds = options.windowSeconds ?? 60;
  const tag = options.tag ?? DEFAULT_TAG;
  const replay = options.replayCache ?? new ReplayCache();
  const now = options.now ?? Date.now;
  const format = options.format ?? 'json';
  const registry = options.registry ?? new Registry();
  const refused = counter(registry, {
    name: 'glasshouse_http_writes_refused_total',
    help: 'Write requests refused by the signature check, by reason (the error code) and route',
    labelNames: ['reason', 'route'],
  });
  const accepted = counter(registry, {
    name: 'glasshouse_http_writes_accepted_total',
    help: 'Signed write requests let through, by caller name and route',
    labelNames: ['caller', 'route'],
  });

  const refuse = (
    req: FastifyRequest,
    reply: FastifyReply,
    route: string,
    err: unknown,
    keyid: string | undefined,
  ): FastifyReply => {
    if (!(err instanceof HttpSigError)) throw err;
    refused.inc({ reason: err.code, route });
    // The claimed key id only: a refusal never logs key material or the signature.
    req.log.warn({ keyid, route, code: err.code }, `write refused: ${err.message}`);
    return send(reply, REFUSAL_STATUS[err.code] ?? 401, err.code, err.message, format);
  };

  app.addHook('onRequest', async (req, reply) => {
    if (SAFE_METHODS.has(req.method)) return;
    const route = routeOf(req);
    if (route === undefined || publicRoutes.has(route)) return;
    let keyid: string | undefined;
    try {
      const nowSeconds = Math.floor(now() / 1000);
      const required = hasBody(req) ? [...SIGNED_COMPONENTS, 'content-type'] : SIGNED_COMPONENTS;
      const verified = verifyRequest(
        requestMessage(req),
        {
          now: nowSeconds,
          tag,
          windowSeconds,
          requiredComponents: required,
          keyFor: (id) => allowList.caller(id)?.publicKey,
        },
        (claim) => (keyid = claim.keyid),
      );
      const caller = allowList.caller(verified.keyid);
      if (caller === undefined || !allowList.isAllowed(verified.keyid, route)) {
        throw new HttpSigError('AUTH_KEY_NOT_ALLOWED', `this key may not call ${route}`);
      }
      // RFC 9421 §7.2.2: a nonce is good once inside the window it could be accepted in.
      replay.record(verified.keyid, verified.nonce, verified.created + windowSeconds, nowSeconds);
      pendingOf.set(req, {
        keyid: verified.keyid,
        name: caller.name,
        route,
      });
    } catch (err) {
      return refuse(req, reply, route, err, keyid);
    }
  });

  // The body is read and checked against its signed digest before anything
  // parses it (RFC 9530 §2: the digest is of the content as received), so a
  // changed body is an authentication failure, never a parse error.
  app.addHook('preParsing', async (req, reply, payload) => {
    const pending = pendingOf.get(req);
    if (pending === undefined) return payload;
    pendingOf.delete(req);
    const body = await readBounded(payload, req.routeOptions.bodyLimit);
    let sha256: Uint8Array | undefined;
    try {
      const field = req.headers['content-digest'];
      if (typeof field !== 'string') {
        throw new HttpSigError('AUTH_DIGEST_MALFORMED', 'Content-Digest is missing');
      }
      // Only the digests the field names: a second algorithm over a large body costs as much.
      const digester = new BodyDigester(claimedAlgorithms(field));
      digester.update(body);
      const digests = digester.digests();
      verifyContentDigest(field, digests);
      sha256 = digests['sha-256'];
    } catch (err) {
      return refuse(req, reply, pending.route, err, pending.keyid);
    }
    accepted.inc({ caller: pending.name, route: pending.route });
    callerOf.set(req, { keyid: pending.keyid, name: pending.name });
    req.log.info(
      { keyid: pending.keyid, caller: pending.name, route: pending.route },
      'signed write',
    );
    return new VerifiedBody(body, sha256);
  });

  return { registry, refused, accepted };
}

/**
 * The body the preParsing hook read and checked, as the stream fastify
 * parses. A content-type parser that takes the stream can take the bytes
 * as they are (`readBody`) instead of reading and copying them again.
 */
class VerifiedBody extends Readable {
  readonly body: Buffer;
  /** SHA-256 of the body, when its Content-Digest named sha-256 (checked against it). */
  readonly sha256: Uint8Array | undefined;

  constructor(body: Buffer, sha256: Uint8Array | undefined) {
    super();
    this.body = body;
    this.sha256 = sha256;
    if (body.length > 0) this.push(body);
    this.push(null);
  }

  override _read(): void {
    // Everything was pushed at construction.
  }
}

const bodyDigests = new WeakMap<Buffer, Uint8Array>();

/**
 * A request body for a content-type parser that takes the stream: the
 * bytes checked against a signed Content-Digest as they are, or the stream
 * read to its end (fastify's 413 past `limit`).
 */
export async function readBody(payload: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  if (payload instanceof VerifiedBody) {
    if (payload.sha256 !== undefined) bodyDigests.set(payload.body, payload.sha256);
    return payload.body;
  }
  return readBounded(payload, limit);
}

/**
 * Makes every request body bytes (a Buffer) for `app`, whatever its
 * content type: a signed body as the signed-writes hook read and checked
 * it, any other read to its end (`readBody`). For servers that hash or keep
 * the exact bytes received, which no parser should have touched.
 */
export function parseBodiesAsBytes(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req, payload, done) => {
    readBody(payload, req.routeOptions.bodyLimit).then(
      (body) => {
        done(null, body);
      },
      (err: unknown) => {
        done(err as Error, undefined);
      },
    );
  });
}

/** The SHA-256 of a body `readBody` answered, when its signed Content-Digest had one. */
export function verifiedSha256(body: Buffer): Uint8Array | undefined {
  return bodyDigests.get(body);
}

/** The whole body, or fastify's own 413 past the route's body limit. */
async function readBounded(payload: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > limit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}

function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function send(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  format: RefusalFormat,
): FastifyReply {
  void reply.code(status).header('cache-control', 'no-store');
  if (format === 'text') {
    return reply.header('content-type', 'text/plain; charset=utf-8').send(`${code}: ${message}\n`);
  }
  return reply.send({ code, message });
}

export interface RateLimitHookOptions {
  readonly limiter: RateLimiter;
  /** Which requests count; default every request. */
  readonly appliesTo?: (req: FastifyRequest) => boolean;
  /** The client a request counts against; default its address. */
  readonly clientOf?: (req: FastifyRequest) => string;
  readonly registry?: Registry;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  readonly format?: RefusalFormat;
}

/** Per-client rate limits: 429 with Retry-After (RFC 9110 §10.2.3) once a client's bucket is empty. */
export function rateLimit(app: FastifyInstance, options: RateLimitHookOptions): Counter<'route'> {
  const { limiter } = options;
  const now = options.now ?? Date.now;
  const clientOf = options.clientOf ?? ((req: FastifyRequest) => req.ip);
  const format = options.format ?? 'json';
  const limited = counter(options.registry ?? new Registry(), {
    name: 'glasshouse_http_rate_limited_total',
    help: 'Requests answered 429 by the per-client rate limit, by route',
    labelNames: ['route'],
  });
  app.addHook('onRequest', async (req, reply) => {
    if (options.appliesTo !== undefined && !options.appliesTo(req)) return;
    const decision = limiter.take(clientOf(req), now());
    if (decision.allowed) return;
    limited.inc({ route: routeOf(req) ?? 'none' });
    void reply.header('retry-after', String(decision.retryAfterSeconds));
    return send(reply, 429, 'RATE_LIMITED', 'too many requests; retry later', format);
  });
  return limited;
}

/** A counter in `registry`, or the one already registered there under that name. */
function counter<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelNames: readonly L[] },
): Counter<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing instanceof Counter) return existing;
  return new Counter({ ...config, registers: [registry] });
}

/** Who may write to a service, as its server options carry it. */
export interface WriterPolicy {
  readonly allowList: AllowList;
  /** Default 60 s. */
  readonly windowSeconds?: number;
  readonly replayCache?: ReplayCache;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
}

export interface GuardOptions {
  /** Signed writes; undefined leaves the write API open (tests, or a gate in front). */
  readonly writers: WriterPolicy | undefined;
  /** A per-client limit on every request, reads included; undefined for none. */
  readonly rateLimit: RateLimitOptions | undefined;
  /** Writes that stay open (authenticated by their content); they are rate-limited. */
  readonly publicRoutes?: readonly string[];
  /** Per-client limit on the public writes only; default `rateLimit`. */
  readonly publicRateLimit?: RateLimitOptions;
  readonly registry?: Registry;
  readonly format?: RefusalFormat;
}

/**
 * A service's whole gate in one call, registered before its routes: the
 * rate limits, then the signature check on every write but the public ones.
 */
export function guardServer(app: FastifyInstance, options: GuardOptions): void {
  const { registry, format } = options;
  const publicRoutes = new Set(options.publicRoutes ?? []);
  const common = {
    ...(registry === undefined ? {} : { registry }),
    ...(format === undefined ? {} : { format }),
  };
  if (options.rateLimit !== undefined) {
    rateLimit(app, { ...common, limiter: new RateLimiter(options.rateLimit) });
  }
  if (options.publicRateLimit !== undefined && publicRoutes.size > 0) {
    rateLimit(app, {
      ...common,
      limiter: new RateLimiter(options.publicRateLimit),
      appliesTo: (req) => publicRoutes.has(routeOf(req) ?? ''),
    });
  }
  if (options.writers !== undefined) {
    requireSignedWrites(app, {
      ...options.writers,
      ...common,
      publicRoutes: [...publicRoutes],
    });
  }
}
