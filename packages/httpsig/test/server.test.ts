/**
 * The fastify hooks over real HTTP on loopback, signed by `signedFetch`.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import {
  AllowList,
  RateLimiter,
  RequestSigner,
  parseBodiesAsBytes,
  rateLimit,
  requireSignedWrites,
  signedFetch,
  verifiedSha256,
  writeCaller,
} from '../src/index.js';
import { newKey } from './fixtures.js';

const writer = newKey();
const reader = newKey();
const stranger = newKey();

interface Harness {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly written: string[];
  readonly registry: Registry;
  clock: number;
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(): Promise<Harness> {
  const app = Fastify();
  const registry = new Registry();
  const h: Harness = { app, url: '', written: [], registry, clock: 1_800_000_000_000 };
  const allowList = new AllowList([
    { name: 'writer', publicKey: writer.publicKey, allow: ['POST /items', 'DELETE /items/:id'] },
    { name: 'reader', publicKey: reader.publicKey, allow: [] },
  ]);
  requireSignedWrites(app, {
    allowList,
    publicRoutes: ['POST /open'],
    registry,
    now: () => h.clock,
  });
  app.post('/items', (req, reply) => {
    h.written.push(`${writeCaller(req)?.name}:${JSON.stringify(req.body)}`);
    return reply.code(201).send({ ok: true });
  });
  app.delete('/items/:id', (req, reply) => {
    h.written.push(`delete ${(req.params as { id: string }).id}`);
    return reply.send({ ok: true });
  });
  app.post('/open', (_req, reply) => reply.send({ open: true }));
  app.get('/items', (_req, reply) => reply.send({ items: h.written }));
  apps.push(app);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return Object.assign(h, { url: address });
}

function signer(key = writer, h?: Harness, skewMs = 0): RequestSigner {
  return new RequestSigner({
    privateKey: key.privateKey,
    now: () => (h?.clock ?? Date.now()) + skewMs,
  });
}

const post = (f: typeof fetch, url: string, body: unknown): Promise<Response> =>
  f(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function codeOf(res: Response): Promise<[number, string]> {
  const body = (await res.json()) as { code?: string };
  return [res.status, body.code ?? ''];
}

describe('requireSignedWrites', () => {
  it('lets an allowed, signed write through and tells the handler who it was', async () => {
    const h = await start();
    const res = await post(signedFetch(signer(writer, h)), `${h.url}/items`, { n: 1 });
    expect(res.status).toBe(201);
    expect(h.written).toEqual(['writer:{"n":1}']);
    const del = await signedFetch(signer(writer, h))(`${h.url}/items/7`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(h.written).toContain('delete 7');
    expect(await h.registry.metrics()).toMatch(
      /glasshouse_http_writes_accepted_total\{caller="writer",route="POST \/items"\} 1/,
    );
  });

  it('leaves reads and public writes open', async () => {
    const h = await start();
    expect((await fetch(`${h.url}/items`)).status).toBe(200);
    expect((await post(fetch, `${h.url}/open`, {})).status).toBe(200);
    expect((await post(fetch, `${h.url}/nowhere`, {})).status).toBe(404);
  });

  it.each<[string, (h: Harness) => Promise<Response>, number, string]>([
    ['no signature', (h) => post(fetch, `${h.url}/items`, { n: 1 }), 401, 'AUTH_SIGNATURE_MISSING'],
    [
      'an unknown key',
      (h) => post(signedFetch(signer(stranger, h)), `${h.url}/items`, { n: 1 }),
      401,
      'AUTH_KEY_UNKNOWN',
    ],
    [
      'a key not allowed for the route',
      (h) => post(signedFetch(signer(reader, h)), `${h.url}/items`, { n: 1 }),
      403,
      'AUTH_KEY_NOT_ALLOWED',
    ],
    [
      'a stale created time',
      (h) => post(signedFetch(signer(writer, h, -61_000)), `${h.url}/items`, { n: 1 }),
      401,
      'AUTH_SIGNATURE_STALE',
    ],
    [
      'a created time in the future',
      (h) => post(signedFetch(signer(writer, h, 61_000)), `${h.url}/items`, { n: 1 }),
      401,
      'AUTH_SIGNATURE_STALE',
    ],
    [
      'a body changed after signing',
      (h) =>
        signedFetch(signer(writer, h), (url, init) =>
          fetch(url, { ...init, body: JSON.stringify({ n: 2 }) }),
        )(`${h.url}/items`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ n: 1 }),
        }),
      401,
      'AUTH_DIGEST_MISMATCH',
    ],
  ])('refuses %s with a code and writes nothing', async (_name, send, status, code) => {
    const h = await start();
    expect(await codeOf(await send(h))).toEqual([status, code]);
    expect(h.written).toEqual([]);
    expect(await h.registry.metrics()).toContain(
      `glasshouse_http_writes_refused_total{reason="${code}",route="POST /items"} 1`,
    );
  });

  it('refuses a replay of a request that was accepted', async () => {
    const h = await start();
    let captured: { url: string; init: RequestInit } | undefined;
    const capture: typeof fetch = (url, init) => {
      captured = { url: url instanceof URL ? url.href : (url as string), init: init ?? {} };
      return fetch(url, init);
    };
    expect(
      (await post(signedFetch(signer(writer, h), capture), `${h.url}/items`, { n: 1 })).status,
    ).toBe(201);
    const again = await fetch(captured!.url, captured!.init);
    expect(await codeOf(again)).toEqual([401, 'AUTH_SIGNATURE_REPLAYED']);
    expect(h.written).toHaveLength(1);
  });

  it('refuses a signed body sent to another route', async () => {
    const h = await start();
    const redirect: typeof fetch = (_url, init) =>
      fetch(`${h.url}/items/1`, { ...init, method: 'DELETE' });
    const res = await post(signedFetch(signer(writer, h), redirect), `${h.url}/items`, { n: 1 });
    expect(await codeOf(res)).toEqual([401, 'AUTH_SIGNATURE_INVALID']);
    expect(h.written).toEqual([]);
  });
});

describe('rateLimit', () => {
  it('answers 429 with Retry-After past the burst; another client is unaffected', async () => {
    const app = Fastify();
    apps.push(app);
    const registry = new Registry();
    rateLimit(app, {
      limiter: new RateLimiter({ burst: 3, perSecond: 0.1 }),
      clientOf: (req) => String(req.headers['x-client']),
      registry,
    });
    app.get('/r', (_req, reply) => reply.send({ ok: true }));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const get = (client: string): Promise<Response> =>
      fetch(`${url}/r`, { headers: { 'x-client': client } });
    for (let i = 0; i < 3; i++) expect((await get('a')).status).toBe(200);
    const limited = await get('a');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('10');
    expect(((await limited.json()) as { code: string }).code).toBe('RATE_LIMITED');
    expect((await get('b')).status).toBe(200);
    expect(await registry.metrics()).toContain(
      'glasshouse_http_rate_limited_total{route="GET /r"} 1',
    );
  });
});

describe('parseBodiesAsBytes (readBody) and verifiedSha256', () => {
  /** A server whose content-type parser takes the stream, as the data site's does. */
  async function streamServer(): Promise<{
    url: string;
    seen: { bytes: string; sha256: string | null }[];
  }> {
    const app = Fastify({ bodyLimit: 64 });
    const seen: { bytes: string; sha256: string | null }[] = [];
    requireSignedWrites(app, {
      allowList: new AllowList([
        { name: 'writer', publicKey: writer.publicKey, allow: ['POST /raw'] },
      ]),
      publicRoutes: ['POST /open'],
    });
    parseBodiesAsBytes(app);
    const record = (body: unknown): void => {
      const b = body as Buffer;
      const sha = verifiedSha256(b);
      seen.push({
        bytes: b.toString('utf8'),
        sha256: sha === undefined ? null : Buffer.from(sha).toString('hex'),
      });
    };
    app.post('/raw', (req, reply) => {
      record(req.body);
      return reply.send({ ok: true });
    });
    app.post('/open', (req, reply) => {
      record(req.body);
      return reply.send({ ok: true });
    });
    apps.push(app);
    return { url: await app.listen({ host: '127.0.0.1', port: 0 }), seen };
  }

  it('hands a parser the checked body and its checked SHA-256', async () => {
    const s = await streamServer();
    const body = '{"n":1}';
    const res = await signedFetch(new RequestSigner({ privateKey: writer.privateKey }))(
      `${s.url}/raw`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body },
    );
    expect(res.status).toBe(200);
    expect(s.seen).toEqual([
      { bytes: body, sha256: createHash('sha256').update(body).digest('hex') },
    ]);
  });

  it('reads an unsigned body itself, with no digest, and refuses one over the limit', async () => {
    const s = await streamServer();
    expect((await post(fetch, `${s.url}/open`, { n: 2 })).status).toBe(200);
    expect(s.seen).toEqual([{ bytes: '{"n":2}', sha256: null }]);
    const big = await post(fetch, `${s.url}/open`, { pad: 'x'.repeat(100) });
    expect(big.status).toBe(413);
    expect(s.seen).toHaveLength(1);
  });
});
