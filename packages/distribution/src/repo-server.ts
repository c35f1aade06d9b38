/**
 * The repository over HTTP: metadata and targets as static files with the
 * cache headers TUF clients expect, the two drafts the supervisor signs, and
 * the vendor's publish call.
 *
 *   GET  /metadata/<N>.<role>.json   immutable (consistent snapshots, TUF 6.2.1)
 *   GET  /metadata/timestamp.json    no-cache (TUF 5.4: always fetched fresh)
 *   GET  /metadata/root.json         no-cache (the latest root, for people)
 *   GET  /targets/<dirs>/<sha256>.<name>  immutable
 *   GET  /drafts/root                the root draft (404 DRAFT_MISSING)
 *   POST /drafts/root/signatures     {keyid, sig} → {version, published, …}
 *   GET  /drafts/targets             the targets draft
 *   POST /drafts/targets/signatures  {keyid, sig}
 *   GET  /drafts/releases            the releases draft
 *   POST /drafts/releases/signatures {keyid, sig}
 *   POST /publish                    {releaseId}; signed (RFC 9421) by a key allowed to publish
 *   GET  /.well-known/glasshouse/trust-bundle.json   DIR/trust-bundle.json, the
 *                                    endpoints' enrollment bundle (RFC 8615 well-known URI)
 *
 * Signatures need no authentication: they are checked against the keys the
 * drafts name (and rate-limited per client). Publishing does: only callers
 * on the `writers` allow-list (or, without one, holders of the token).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { CodedError } from '@glasshouse/errors';
import { isErrno, writeNewFileDurably } from '@glasshouse/durable';
import { Registry } from 'prom-client';
import { guardServer, type RateLimitOptions, type WriterPolicy } from '@glasshouse/httpsig';
import { DistributionError } from './errors.js';
import type { RepoService } from './repo-service.js';
import { parseTufSignature } from './tuf-keys.js';
import { addReleasesSignature, releasesDraft } from './releases-ceremony.js';
import { repoPaths } from './repo-store.js';
import { addRootSignature, rootDraft } from './root-ceremony.js';
import { addTargetsSignature, targetsDraft } from './targets-ceremony.js';

export const PUBLISH_TOKEN_FILE = 'publish-token';
/** The enrollment bundle endpoints pin, written by whoever co-signs it, served as is. */
export const TRUST_BUNDLE_FILE = 'trust-bundle.json';
export const TRUST_BUNDLE_PATH = '/.well-known/glasshouse/trust-bundle.json';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const METADATA_FILE =
  /^(?:[1-9][0-9]{0,15}\.(?:root|snapshot|targets|releases)|timestamp|root)\.json$/;
const TARGET_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const MAX_BODY = 64 * 1024;
/** Writes authenticated by their content: TUF signatures checked against the drafts' keys. */
const SIGNATURE_ROUTES = [
  'POST /drafts/root/signatures',
  'POST /drafts/targets/signatures',
  'POST /drafts/releases/signatures',
];
/** Per client: a signing ceremony uploads a handful of signatures. */
const SIGNATURE_RATE_LIMIT = { burst: 30, perSecond: 1 };

const STATUS: Readonly<Record<string, number>> = {
  DRAFT_MISSING: 404,
  DRAFT_MALFORMED: 400,
  DRAFT_PENDING: 409,
  DRAFT_EXPIRED: 409,
  SIGNATURE_MALFORMED: 400,
  SIGNATURE_UNKNOWN_KEY: 403,
  SIGNATURE_INVALID: 403,
  ROOT_NOT_PUBLISHED: 409,
  RELEASE_NOT_APPROVED: 409,
  ASSEMBLY_NOT_FOUND: 404,
  REPO_UPSTREAM_FAILED: 502,
  ASSEMBLY_UNREACHABLE: 502,
  TARGET_EXISTS: 409,
};

/** The publish token in `dir`, created (mode 0600) on first use. */
export async function ensurePublishToken(dir: string): Promise<string> {
  const path = join(dir, PUBLISH_TOKEN_FILE);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const token = randomBytes(32).toString('hex');
  await writeNewFileDurably(path, `${token}\n`, 0o600);
  return token;
}

export interface RepoServerOptions {
  readonly service: RepoService;
  /** The bearer token `/publish` asks for when `writers` is not set. */
  readonly publishToken?: string;
  /**
   * Who may call `/publish` (RFC 9421 signatures, see @glasshouse/httpsig);
   * it replaces the token. The draft signature uploads stay open: they are
   * checked against the keys the drafts name, and rate-limited.
   */
  readonly writers?: WriterPolicy;
  /** A per-client limit on every request; default none. */
  readonly rateLimit?: RateLimitOptions;
  readonly now?: () => Date;
  readonly logger?: boolean;
}

export function buildRepoServer(options: RepoServerOptions): FastifyInstance {
  const { service } = options;
  const dir = service.dir;
  const paths = repoPaths(dir);
  const now = options.now ?? (() => new Date());
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: MAX_BODY });
  // Refused writes are counted here and served on /metrics (who tried, never a secret).
  const registry = new Registry();
  guardServer(app, {
    writers: options.writers,
    rateLimit: options.rateLimit,
    publicRoutes: SIGNATURE_ROUTES,
    publicRateLimit: SIGNATURE_RATE_LIMIT,
    registry,
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof CodedError) {
      const coded = err as CodedError;
      return reply
        .code(STATUS[coded.code] ?? 500)
        .send({ code: coded.code, message: coded.message });
    }
    const e = err as { statusCode?: number; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ code: 'REPO_BAD_REQUEST', message: e.message });
    }
    app.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL_ERROR', message: 'internal error' });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: 'no such resource' }),
  );

  app.get(TRUST_BUNDLE_PATH, async (_req, reply) => {
    const bytes = await readIfPresent(join(dir, TRUST_BUNDLE_FILE));
    if (bytes === undefined)
      return reply.code(404).send({ code: 'NOT_FOUND', message: 'no trust bundle published' });
    // Re-signed when a URL or key changes; endpoints compare its fingerprint.
    return reply.type('application/json').header('cache-control', 'no-cache').send(bytes);
  });

  app.get<{ Params: { file: string } }>('/metadata/:file', async (req, reply) => {
    const file = req.params.file;
    if (!METADATA_FILE.test(file))
      return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such metadata' });
    const bytes = await readIfPresent(join(paths.metadata, file));
    if (bytes === undefined)
      return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such metadata' });
    const mutable = file === 'timestamp.json' || file === 'root.json';
    return reply
      .type('application/json')
      .header('cache-control', mutable ? 'no-cache' : IMMUTABLE)
      .send(bytes);
  });

  app.get<{ Params: { '*': string } }>('/targets/*', async (req, reply) => {
    const segments = req.params['*'].split('/');
    if (segments.length > 9 || !segments.every((s) => TARGET_SEGMENT.test(s))) {
      return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such target' });
    }
    const bytes = await readIfPresent(join(paths.targets, ...segments));
    if (bytes === undefined)
      return reply.code(404).send({ code: 'NOT_FOUND', message: 'no such target' });
    return reply.type('application/octet-stream').header('cache-control', IMMUTABLE).send(bytes);
  });

  app.get('/drafts/root', async (_req, reply) =>
    reply.header('cache-control', 'no-store').send(await rootDraft(dir)),
  );
  app.post('/drafts/root/signatures', async (req, reply) => {
    const result = await addRootSignature(dir, parseTufSignature(req.body), now());
    return reply.code(201).send(result);
  });
  app.get('/drafts/targets', async (_req, reply) =>
    reply.header('cache-control', 'no-store').send(await targetsDraft(dir)),
  );
  app.post('/drafts/targets/signatures', async (req, reply) => {
    const result = await addTargetsSignature(dir, parseTufSignature(req.body), now());
    return reply.code(201).send(result);
  });
  app.get('/drafts/releases', async (_req, reply) =>
    reply.header('cache-control', 'no-store').send(await releasesDraft(dir)),
  );
  app.post('/drafts/releases/signatures', async (req, reply) => {
    const result = await addReleasesSignature(dir, parseTufSignature(req.body), now());
    return reply.code(201).send(result);
  });

  const expected =
    options.writers === undefined ? Buffer.from(`Bearer ${options.publishToken ?? ''}`) : undefined;
  app.post('/publish', async (req, reply) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (
      expected !== undefined &&
      (options.publishToken === undefined ||
        given.length !== expected.length ||
        !timingSafeEqual(given, expected))
    ) {
      return reply
        .code(401)
        .send({ code: 'REPO_UNAUTHORIZED', message: 'a publish token is required' });
    }
    const body = req.body as { releaseId?: unknown } | null;
    if (typeof body?.releaseId !== 'string' || body.releaseId.length > 64) {
      throw new DistributionError('REPO_OPTION_INVALID', 'the body must be {"releaseId": "…"}');
    }
    const published = await service.publish(body.releaseId);
    return reply.code(201).send({
      ...published,
      releaseLog: { ...published.releaseLog, index: published.releaseLog.index.toString() },
    });
  });

  return app;
}

async function readIfPresent(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR') || isErrno(err, 'ENOTDIR')) {
      return undefined;
    }
    throw err;
  }
}
