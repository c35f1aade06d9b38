/**
 * The index service's HTTP API (public, read-only):
 *
 * - `GET /v1/lookup/<customer>` — the customer's list at the published
 *   revision: `{customer, outputIndex, entry, indices, proof}` (`entry` is
 *   the output-log entry's bytes in base64, indices decimal strings, `proof`
 *   the lookup proof's JSON form of @glasshouse/access-format).
 * - `GET /v1/revision` — the published revision `{size, outputIndex, entry}`.
 * - `GET /healthz`.
 *
 * Nothing served here is trusted by the reader: `access mine` checks the
 * entry against the witnessed output log and the proof against its root.
 * Listening is the caller's business.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { lookupProofJson } from '@glasshouse/access-format';
import { CodedError } from '@glasshouse/errors';
import { encodeBase64 } from '@glasshouse/tlog';
import type { AccessErrorCode } from '../errors.js';
import type { IndexService } from './service.js';

export interface IndexServerOptions {
  readonly service: IndexService;
  readonly logger?: boolean;
}

const STATUS: Partial<Record<AccessErrorCode, number>> = {
  BAD_REQUEST: 400,
  INDEX_NOT_READY: 503,
  CLOSED: 503,
};

export function buildIndexServer(opts: IndexServerOptions): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false });
  const service = opts.service;

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof CodedError) {
      const code = (err as CodedError).code;
      const status = STATUS[code as AccessErrorCode] ?? 500;
      void reply.code(status).send({ code, message: err.message });
      return;
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    void reply.code(status).send({
      code: status === 404 ? 'NOT_FOUND' : 'INTERNAL',
      message: err instanceof Error ? err.message : String(err),
    });
  });

  app.get<{ Params: { customer: string } }>('/v1/lookup/:customer', async (req, reply) => {
    const a = await service.lookup(req.params.customer);
    void reply.header('cache-control', 'no-cache');
    return {
      customer: a.customer,
      outputIndex: a.outputIndex.toString(),
      entry: encodeBase64(a.entry),
      indices: a.indices.map((i) => i.toString()),
      proof: lookupProofJson(a.proof),
    };
  });

  app.get('/v1/revision', async (_req, reply) => {
    const p = service.published;
    void reply.header('cache-control', 'no-cache');
    if (p === null) {
      return reply.code(503).send({ code: 'INDEX_NOT_READY', message: 'no revision yet' });
    }
    return {
      size: p.size.toString(),
      outputIndex: p.outputIndex.toString(),
      entry: encodeBase64(p.entry),
    };
  });

  app.get('/healthz', () => Promise.resolve({ ok: true, size: service.size.toString() }));
  return app;
}
