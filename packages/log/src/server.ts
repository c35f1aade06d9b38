import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { CodedError } from '@glasshouse/errors';
import { guardServer, type RateLimitOptions, type WriterPolicy } from '@glasshouse/httpsig';
import {
  MAX_ENTRY_SIZE,
  TlogError,
  decodeBundle,
  encodeBase64,
  parseTilePath,
} from '@glasshouse/tlog';
import { LogError, type LogErrorCode } from './errors.js';
import type { Log, SignedCheckpoint, WitnessingMode } from './log.js';
import type { SequencedResult } from './sequencer.js';
import { acceptsGzip } from '@glasshouse/http';

export interface ServerOptions {
  readonly log: Log;
  /** Most entries in one POST /add-batch. Default 4,096. */
  readonly maxBatchEntries?: number;
  /** Most bytes in one POST /add-batch body. Default 16 MiB. */
  readonly maxBatchBytes?: number;
  /** Dedup every add, not only those with `?dedup`. Default false. */
  readonly dedup?: boolean;
  /** How long `?wait=checkpoint` waits. Default 30 s. */
  readonly waitTimeoutMs?: number;
  /** Seconds in Retry-After when the queue is full. Default 1. */
  readonly retryAfterSeconds?: number;
  /** Passed to fastify (pino); default off. */
  readonly logger?: boolean;
  /**
   * Who may call `/add` and `/add-batch` (RFC 9421 signatures, see
   * @glasshouse/httpsig). Undefined leaves the write API open: only for
   * tests, or behind a gate of its own.
   */
  readonly writers?: WriterPolicy;
  /** A per-client limit on every request; default none. */
  readonly rateLimit?: RateLimitOptions;
}

// c2sp.org/tlog-tiles: tiles and bundles are immutable, so cache them for long.
const IMMUTABLE = 'public, max-age=31536000, immutable';
// c2sp.org/tlog-tiles: the checkpoint is mutable; prevent caching beyond a few seconds.
const MUTABLE = 'no-cache';
const MAX_UINT64 = (1n << 64n) - 1n;
const DECIMAL = /^(?:0|[1-9][0-9]{0,19})$/;

/** Compressed full entry bundles kept in memory, in bytes. */
const GZIP_CACHE_BYTES = 32 * 1024 * 1024;
const gzipAsync = promisify(gzip);

/**
 * Gzipped entry bundles by path: compressed on the thread pool, not on the
 * event loop, and only once per path at a time. Full bundles (no `.p/`)
 * are the ones readers fetch again and again, and like every tile path they
 * never change, so their compressed bytes are kept in a small LRU.
 */
class GzipCache {
  readonly #lru = new Map<string, Buffer>();
  readonly #inFlight = new Map<string, Promise<Buffer>>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get(path: string): Buffer | undefined {
    const hit = this.#lru.get(path);
    if (hit !== undefined) {
      this.#lru.delete(path);
      this.#lru.set(path, hit);
    }
    return hit;
  }

  compress(path: string, data: Uint8Array): Promise<Buffer> {
    const running = this.#inFlight.get(path);
    if (running !== undefined) return running;
    const job = gzipAsync(data)
      .then((gz) => {
        if (!path.includes('.p/')) this.#put(path, gz);
        return gz;
      })
      .finally(() => this.#inFlight.delete(path));
    this.#inFlight.set(path, job);
    return job;
  }

  #put(path: string, gz: Buffer): void {
    if (gz.length > this.maxBytes || this.#lru.has(path)) return;
    this.#lru.set(path, gz);
    this.#bytes += gz.length;
    for (const [oldest, old] of this.#lru) {
      if (this.#bytes <= this.maxBytes) break;
      this.#lru.delete(oldest);
      this.#bytes -= old.length;
    }
  }
}

/** What `/healthz` says about witnessing; the development flag is spelled out loudly. */
const WITNESSING_TEXT: Record<WitnessingMode, string> = {
  none: 'none (no witness policy; every signed checkpoint is published)',
  required: 'required (only checkpoints cosigned by a quorum are published)',
  disabled: 'DISABLED (development flag: checkpoints are published without a witness quorum)',
};

/** HTTP status of each code the API can answer with (everything else is a 500). */
const STATUS: Partial<Record<LogErrorCode, number>> = {
  ENTRY_EMPTY: 400,
  ENTRY_TOO_LARGE: 413,
  BATCH_MALFORMED: 400,
  BATCH_TOO_LARGE: 413,
  BAD_REQUEST: 400,
  INDEX_OUT_OF_RANGE: 400,
  SIZE_OUT_OF_RANGE: 400,
  TILE_NOT_FOUND: 404,
  NOT_FOUND: 404,
  QUEUE_FULL: 503,
  CLOSED: 503,
  WAIT_TIMEOUT: 504,
};

/**
 * The log's HTTP API: the c2sp.org/tlog-tiles read API at the root, the
 * write API (`/add`, `/add-batch`), proofs and receipts for clients that do
 * not read tiles, health and metrics. Listening is the caller's business.
 */
export function buildServer(opts: ServerOptions): FastifyInstance {
  const { log } = opts;
  const maxBatchEntries = opts.maxBatchEntries ?? 4096;
  const maxBatchBytes = opts.maxBatchBytes ?? 16 * 1024 * 1024;
  const waitTimeoutMs = opts.waitTimeoutMs ?? 30_000;
  const retryAfter = String(opts.retryAfterSeconds ?? 1);
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: MAX_ENTRY_SIZE });
  const gzipCache = new GzipCache(GZIP_CACHE_BYTES);
  guardServer(app, {
    writers: opts.writers,
    rateLimit: opts.rateLimit,
    registry: log.metrics.registry,
  });

  // Entries are opaque bytes whatever the client calls them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, body);
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, code, message } = describeError(err, req.url.startsWith('/add-batch'));
    if (code === 'QUEUE_FULL' || code === 'CLOSED') void reply.header('retry-after', retryAfter);
    if (status >= 500 && code !== 'QUEUE_FULL' && code !== 'CLOSED') {
      app.log.error({ err }, 'request failed');
    }
    return reply.code(status).send({ code, message });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: 'no such resource' }),
  );

  const wantsCheckpoint = (req: FastifyRequest): boolean => {
    const wait = (req.query as Record<string, unknown>).wait;
    if (wait === undefined) return false;
    if (wait === 'checkpoint') return true;
    throw new LogError('BAD_REQUEST', 'wait must be "checkpoint"');
  };
  const dedupOf = (req: FastifyRequest): boolean => {
    const v = (req.query as Record<string, unknown>).dedup;
    if (v === undefined) return opts.dedup ?? false;
    // `?dedup` alone arrives as the empty string.
    if (v === '' || v === '1' || v === 'true') return true;
    if (v === '0' || v === 'false') return false;
    throw new LogError('BAD_REQUEST', 'dedup must be empty, 1, true, 0 or false');
  };

  app.post('/add', async (req, reply) => {
    const wait = wantsCheckpoint(req);
    const dedup = dedupOf(req);
    const body = bodyBytes(req);
    const result = await log.add(body, { dedup });
    const out: Record<string, unknown> = {
      index: Number(result.index),
      leafHash: encodeBase64(result.leafHash),
    };
    if (wait) {
      const cp = await waitFor([result], log, waitTimeoutMs);
      out.checkpoint = cp.note;
      out.receipt = await log.receipt(result.index, cp);
    }
    return reply.send(out);
  });

  app.post('/add-batch', { bodyLimit: maxBatchBytes }, async (req, reply) => {
    const wait = wantsCheckpoint(req);
    const dedup = dedupOf(req);
    const body = bodyBytes(req);
    let entries: Uint8Array[];
    try {
      // c2sp.org/tlog-tiles entry-bundle encoding: uint16-length-prefixed entries.
      entries = decodeBundle(body, { maxEntries: maxBatchEntries });
    } catch (cause) {
      if (cause instanceof TlogError && cause.code === 'BUNDLE_TOO_MANY_ENTRIES') {
        throw new LogError('BATCH_TOO_LARGE', `a batch holds at most ${maxBatchEntries} entries`, {
          cause,
        });
      }
      throw new LogError('BATCH_MALFORMED', 'the body is not an entry bundle', { cause });
    }
    if (entries.length === 0) throw new LogError('BATCH_MALFORMED', 'the batch is empty');
    const results = await log.addBatch(entries, { dedup });
    const out: Record<string, unknown> = { indices: results.map((r) => Number(r.index)) };
    if (wait) {
      const cp = await waitFor(results, log, waitTimeoutMs);
      out.checkpoint = cp.note;
      const receipts: string[] = [];
      for (const r of results) receipts.push(await log.receipt(r.index, cp));
      out.receipts = receipts;
    }
    return reply.send(out);
  });

  app.get('/checkpoint', async (_req, reply) => {
    const cp = await log.latest();
    return reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', MUTABLE)
      .send(cp.note);
  });

  app.get('/tile/*', async (req, reply) => {
    const path = `tile/${(req.params as { '*': string })['*']}`;
    let kind: 'hash' | 'entries';
    try {
      kind = parseTilePath(path).kind;
    } catch (cause) {
      if (cause instanceof TlogError) {
        throw new LogError('BAD_REQUEST', 'not a tlog-tiles path', {
          cause,
          evidence: { path: path.slice(0, 80) },
        });
      }
      throw cause;
    }
    // c2sp.org/tlog-tiles: entry bundles SHOULD be compressed at the HTTP layer.
    const gzipped = kind === 'entries' && acceptsGzip(req.headers['accept-encoding']);
    const cached = gzipped ? gzipCache.get(path) : undefined;
    let body: Buffer;
    if (cached !== undefined) {
      body = cached;
    } else {
      const data = await log.readTile(path);
      if (data === null) throw new LogError('TILE_NOT_FOUND', `${path} does not exist (yet)`);
      body = gzipped
        ? await gzipCache.compress(path, data)
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    }
    void reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', IMMUTABLE);
    if (kind === 'entries') void reply.header('vary', 'accept-encoding');
    if (gzipped) void reply.header('content-encoding', 'gzip');
    return reply.send(body);
  });

  app.get('/proof/inclusion', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const index = parseUint64(q.index, 'index');
    const size =
      q.size === undefined ? (await log.latest()).checkpoint.size : parseUint64(q.size, 'size');
    const proof = await log.inclusionProof(index, size);
    return reply
      .header('cache-control', IMMUTABLE)
      .send({ index: Number(index), size: Number(size), proof: proof.map(encodeBase64) });
  });

  app.get('/proof/consistency', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const oldSize = parseUint64(q.old, 'old');
    const newSize =
      q.new === undefined ? (await log.latest()).checkpoint.size : parseUint64(q.new, 'new');
    const proof = await log.consistencyProof(oldSize, newSize);
    return reply
      .header('cache-control', IMMUTABLE)
      .send({ old: Number(oldSize), new: Number(newSize), proof: proof.map(encodeBase64) });
  });

  app.get('/receipt/:index', async (req, reply) => {
    const index = parseUint64((req.params as { index: string }).index, 'index');
    // `?wait=checkpoint`: once a published checkpoint covers the index (as POST /add's wait).
    const cp = wantsCheckpoint(req) ? await log.waitForCheckpoint(index, waitTimeoutMs) : undefined;
    const receipt = await log.receipt(index, cp);
    return reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', MUTABLE)
      .send(receipt);
  });

  app.get('/healthz', async (_req, reply) => {
    const [cp, signed] = await Promise.all([log.latest(), log.latestSigned()]);
    return reply.header('cache-control', 'no-store').send({
      ok: true,
      origin: log.origin,
      // The published checkpoint's size, as served at /checkpoint.
      size: Number(cp.checkpoint.size),
      signedSize: Number(signed.checkpoint.size),
      witnessing: WITNESSING_TEXT[log.witnessingMode],
      witnesses: log.witnessStatus().map((w) => ({
        name: w.name,
        url: w.url,
        cosignedSize: w.cosignedSize === undefined ? null : Number(w.cosignedSize),
        lastError: w.lastError ?? null,
      })),
      integrating: log.integrating,
      queueDepth: log.queueDepth,
    });
  });

  app.get('/metrics', async (_req, reply) => {
    log.metrics.queueDepth.set(log.queueDepth);
    await log.latest().catch((err: unknown) => {
      app.log.warn({ err }, 'metrics: cannot read the checkpoint');
    });
    return reply
      .header('content-type', log.metrics.registry.contentType)
      .header('cache-control', 'no-store')
      .send(await log.metrics.metricsText());
  });

  return app;
}

function bodyBytes(req: FastifyRequest): Uint8Array {
  const body = req.body;
  if (body === undefined || body === null) return new Uint8Array(0);
  if (!Buffer.isBuffer(body)) throw new LogError('BAD_REQUEST', 'unexpected body');
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

async function waitFor(
  results: readonly SequencedResult[],
  log: Log,
  timeoutMs: number,
): Promise<SignedCheckpoint> {
  let highest = 0n;
  for (const r of results) if (r.index > highest) highest = r.index;
  return log.waitForCheckpoint(highest, timeoutMs);
}

function parseUint64(v: unknown, name: string): bigint {
  if (typeof v !== 'string' || !DECIMAL.test(v) || BigInt(v) > MAX_UINT64) {
    throw new LogError('BAD_REQUEST', `${name} must be a decimal uint64`, {
      evidence: { [name]: typeof v === 'string' ? v.slice(0, 32) : null },
    });
  }
  return BigInt(v);
}

function describeError(
  err: unknown,
  batch: boolean,
): { status: number; code: string; message: string } {
  if (err instanceof LogError) {
    return { status: STATUS[err.code] ?? 500, code: err.code, message: err.message };
  }
  if (err instanceof TlogError) {
    // Proof and tile math only fail on arguments the request supplied.
    return { status: 400, code: err.code, message: err.message };
  }
  if (err instanceof CodedError) {
    const coded = err as CodedError;
    return { status: 500, code: coded.code, message: coded.message };
  }
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code =
      e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? batch
          ? 'BATCH_TOO_LARGE'
          : 'ENTRY_TOO_LARGE'
        : typeof e.code === 'string'
          ? e.code
          : 'BAD_REQUEST';
    return {
      status: e.statusCode,
      code,
      message: typeof e.message === 'string' ? e.message : 'bad request',
    };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error' };
}
