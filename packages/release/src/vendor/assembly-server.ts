/**
 * The assembly line's HTTP API (the README's "Assembly line" section has the
 * table). JSON everywhere except artifact and attestation bytes; a build
 * streams its progress as NDJSON. Listening is the caller's business.
 */
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { CodedError } from '@glasshouse/errors';
import { Registry } from 'prom-client';
import { guardServer, type RateLimitOptions, type WriterPolicy } from '@glasshouse/httpsig';
import { isReleaseId } from '@glasshouse/release-format';
import { parseBuildRequest, type AssemblyLine } from './assembly.js';
import { MAX_ATTESTATION_BYTES } from './uploads.js';
import { ReleaseError, type ReleaseErrorCode } from '../errors.js';

export interface AssemblyServerOptions {
  readonly line: AssemblyLine;
  /** Seconds in Retry-After when a build is already running. Default 10. */
  readonly retryAfterSeconds?: number;
  /** Passed to fastify (pino); default off. */
  readonly logger?: boolean;
  /**
   * Who may request builds and upload attestations (RFC 9421 signatures,
   * see @glasshouse/httpsig). Undefined leaves the write API open: only for
   * tests, or behind a gate of its own.
   */
  readonly writers?: WriterPolicy;
  /** A per-client limit on every request; default none. */
  readonly rateLimit?: RateLimitOptions;
}

/** The largest POST /releases body. */
export const MAX_BUILD_REQUEST_BYTES = 16 * 1024;
/** The largest POST /releases/<id>/attestations body (the attestation plus its wrapper). */
export const MAX_ATTESTATION_REQUEST_BYTES = MAX_ATTESTATION_BYTES + 64 * 1024;
export const NDJSON = 'application/x-ndjson';

/** HTTP status of each code the API answers with; anything else is a 500. */
const STATUS: Partial<Record<ReleaseErrorCode, number>> = {
  ASSEMBLY_BAD_REQUEST: 400,
  GIT_BAD_COMMIT: 400,
  GIT_BAD_SOURCE: 400,
  ASSEMBLY_BAD_ATTESTATION: 400,
  ASSEMBLY_NOT_FOUND: 404,
  SOURCE_NOT_SERVED: 404,
  SOURCE_OBJECT_TOO_LARGE: 413,
  ASSEMBLY_TOO_LARGE: 413,
  ASSEMBLY_NO_SUPERVISOR: 409,
  ASSEMBLY_APPROVAL_INCOMPLETE: 409,
  ASSEMBLY_NOT_APPROVED: 409,
  ASSEMBLY_RELEASE_REJECTED: 409,
  ASSEMBLY_BUSY: 503,
  ASSEMBLY_CLOSED: 503,
};

/** `{code, message}` of an error as the API reports it (no stack, no host details). */
export function errorBody(err: unknown): { code: string; message: string } {
  if (err instanceof CodedError) {
    const coded = err as CodedError;
    return { code: coded.code, message: coded.message };
  }
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}

export function buildAssemblyServer(opts: AssemblyServerOptions): FastifyInstance {
  const { line } = opts;
  const retryAfter = String(opts.retryAfterSeconds ?? 10);
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_BUILD_REQUEST_BYTES });
  // Refused writes are counted here and served on /metrics (who tried, never a secret).
  const registry = new Registry();
  guardServer(app, { writers: opts.writers, rateLimit: opts.rateLimit, registry });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );

  app.setErrorHandler((err, _req, reply) => {
    const { status, code, message } = describe(err);
    if (code === 'ASSEMBLY_BUSY' || code === 'ASSEMBLY_CLOSED') {
      void reply.header('retry-after', retryAfter);
    }
    if (status >= 500 && status !== 503) app.log.error({ err }, 'request failed');
    return reply.code(status).send({ code, message });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'ASSEMBLY_NOT_FOUND', message: 'no such resource' }),
  );

  app.get('/builder-key', (_req, reply) =>
    reply.send({
      builderId: line.identity.builderId,
      keyid: line.identity.keyid,
      publicKeyPem: line.identity.publicKeyPem,
      keyDict: line.identity.keyDict,
      sandbox:
        line.sandbox.kind === 'bubblewrap'
          ? { kind: 'bubblewrap', version: line.sandbox.version }
          : { kind: 'none' },
    }),
  );

  app.get('/layout-key', (_req, reply) => reply.send(line.layoutKey));

  app.get('/releases', (_req, reply) => reply.send({ releases: line.listReleases() }));

  app.post('/releases', (req, reply) => {
    // Everything that can be refused up front is refused with a 4xx before
    // the stream starts; what fails later arrives as the stream's last line.
    const request = parseBuildRequest(req.body);
    if (line.busy) {
      throw new ReleaseError('ASSEMBLY_BUSY', 'another build is running; try again later');
    }
    const stream = new PassThrough();
    const send = (value: unknown): void => {
      stream.write(`${JSON.stringify(value)}\n`);
    };
    line
      .build(request, (progress) => {
        send({ progress });
      })
      .then(
        (release) => {
          send({ release });
          stream.end();
        },
        (err: unknown) => {
          if (!(err instanceof CodedError)) app.log.error({ err }, 'build failed');
          send({ error: errorBody(err) });
          stream.end();
        },
      );
    return reply.code(200).type(NDJSON).header('cache-control', 'no-store').send(stream);
  });

  app.get<{ Params: { id: string } }>('/releases/:id', (req, reply) =>
    reply.send(line.getRelease(req.params.id)),
  );

  app.get<{ Params: { id: string; '*': string } }>(
    '/releases/:id/artifacts/*',
    async (req, reply) => {
      const { ref, bytes } = await line.artifact(req.params.id, req.params['*']);
      return reply
        .type('application/octet-stream')
        .header('etag', `"${ref.sha256}"`)
        .header('repr-digest', `sha-256=:${Buffer.from(ref.sha256, 'hex').toString('base64')}:`)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(Buffer.from(bytes));
    },
  );

  app.get<{ Params: { id: string; sha256: string } }>(
    '/releases/:id/attestations/:sha256',
    async (req, reply) => {
      const { ref, bytes } = await line.attestation(req.params.id, req.params.sha256);
      return reply
        .type('application/json')
        .header('etag', `"${ref.sha256}"`)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(Buffer.from(bytes));
    },
  );

  // The release's source, one git object at a time (the commit, its trees
  // and blobs): the bytes git hashes, so the reader checks each against the
  // provenance's gitCommit without trusting this server.
  app.get<{ Params: { id: string; oid: string } }>(
    '/releases/:id/source/objects/:oid',
    async (req, reply) => {
      const bytes = await line.sourceObject(req.params.id, req.params.oid);
      return reply
        .type('application/x-git-loose-object')
        .header('etag', `"${req.params.oid}"`)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(Buffer.from(bytes));
    },
  );

  app.get<{ Params: { id: string } }>('/releases/:id/layout', async (req, reply) => {
    const { ref, bytes } = await line.layout(req.params.id);
    return reply
      .type('application/json')
      .header('etag', `"${ref.sha256}"`)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(Buffer.from(bytes));
  });

  app.post<{ Params: { id: string } }>(
    '/releases/:id/attestations',
    { bodyLimit: MAX_ATTESTATION_REQUEST_BYTES },
    async (req, reply) => {
      if (!isReleaseId(req.params.id)) {
        throw new ReleaseError('ASSEMBLY_NOT_FOUND', `no release ${req.params.id}`);
      }
      const record = await line.addAttestation(req.params.id, req.body);
      return reply.code(201).send(record);
    },
  );

  return app;
}

function describe(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof CodedError) {
    const coded = err as CodedError;
    return {
      status: STATUS[coded.code as ReleaseErrorCode] ?? 500,
      code: coded.code,
      message: coded.message,
    };
  }
  // fastify's own errors: body too large, not JSON, wrong content type.
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, code: 'ASSEMBLY_TOO_LARGE', message: 'the request body is too large' };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return {
      status: e.statusCode,
      code: 'ASSEMBLY_BAD_REQUEST',
      message: e.message ?? 'bad request',
    };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error' };
}
