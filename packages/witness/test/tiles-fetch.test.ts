import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBundle } from '@glasshouse/tlog';
import { TilesFetcher } from '../src/tiles-fetch.js';

const fullTile = Buffer.alloc(8192);
for (let i = 0; i < fullTile.length; i++) fullTile[i] = i % 251;
const bundleEntries = Array.from({ length: 256 }, (_, i) => Buffer.from(`entry ${i}`));
const fullBundle = Buffer.from(encodeBundle(bundleEntries));

// The built-in node:http transport, and an injected fetch in its place.
describe.each([
  ['node:http', undefined],
  ['fetch', fetch],
] as const)('TilesFetcher (%s)', (_transport, fetchImpl) => {
  let app: FastifyInstance;
  let url: string;
  const calls = new Map<string, number>();

  beforeAll(async () => {
    app = Fastify();
    app.addHook('onRequest', (req, _reply, done) => {
      calls.set(req.url, (calls.get(req.url) ?? 0) + 1);
      done();
    });
    const octets = { 'content-type': 'application/octet-stream' };
    app.get('/checkpoint', (_req, reply) => reply.send('origin\n0\nroot\n'));
    // Partial tiles gone, full ones served: the spec's fallback.
    app.get('/tile/0/000', (_req, reply) => reply.headers(octets).send(fullTile));
    app.get('/tile/entries/000', (req, reply) => {
      // Compressed when asked for, as c2sp.org/tlog-tiles recommends.
      if (req.headers['accept-encoding']?.includes('gzip') === true) {
        return reply.headers({ ...octets, 'content-encoding': 'gzip' }).send(gzipSync(fullBundle));
      }
      return reply.headers(octets).send(fullBundle);
    });
    // Fails twice, then works.
    app.get('/tile/0/001', (req, reply) =>
      (calls.get(req.url) ?? 0) <= 2
        ? reply.code(503).send('busy')
        : reply.headers(octets).send(fullTile),
    );
    app.get('/tile/0/002', (_req, reply) => reply.headers(octets).send(Buffer.alloc(9000)));
    app.get('/tile/entries/001', (_req, reply) =>
      reply
        .headers({ ...octets, 'content-encoding': 'gzip' })
        .send(gzipSync(Buffer.alloc(20 * 1024 * 1024))),
    );
    app.get('/tile/0/003', async (_req, reply) => {
      await new Promise((r) => setTimeout(r, 600));
      return reply.headers(octets).send(fullTile);
    });
    app.get('/tile/0/004', (_req, reply) => reply.code(403).send('no'));
    app.get('/tile/0/005', (_req, reply) => reply.redirect('/tile/0/000', 302));
    app.get('/tile/0/006', (_req, reply) => reply.redirect('/tile/0/006', 302));
    app.get('/tile/entries/002.p/3', (_req, reply) =>
      reply.headers(octets).send(encodeBundle(bundleEntries.slice(0, 2))),
    );
    app.get('/tile/entries/003.p/3', (_req, reply) =>
      reply.headers(octets).send(Buffer.from([0, 9, 1])),
    );
    url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
  });
  afterAll(async () => {
    await app.close();
  });

  const fetcher = (opts: { retries?: number; timeoutMs?: number } = {}) =>
    new TilesFetcher({
      url,
      backoffMs: 1,
      retries: 0,
      ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
      ...opts,
    });
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'resolved',
      (err: unknown) => (err as { code?: string }).code,
    );

  it('falls back from a missing partial tile or bundle to the full one', async () => {
    const tile = await fetcher().hashTile(0, 0n, 5);
    expect(tile).toMatchObject({ path: 'tile/0/000.p/5', fromFull: true });
    expect(Buffer.from(tile.data)).toEqual(fullTile.subarray(0, 160));
    const bundle = await fetcher().entryBundle(0n, 3);
    expect(bundle).toMatchObject({ path: 'tile/entries/000.p/3', fromFull: true });
    expect(bundle.entries.map((e) => Buffer.from(e).toString())).toEqual([
      'entry 0',
      'entry 1',
      'entry 2',
    ]);
    expect(Buffer.from(bundle.data)).toEqual(Buffer.from(encodeBundle(bundleEntries.slice(0, 3))));
    expect(Buffer.from((await fetcher().entryBundle(0n, 256)).data)).toEqual(fullBundle);
  });

  it('retries 5xx with backoff, and not 4xx', async () => {
    expect((await fetcher({ retries: 3 }).hashTile(0, 1n, 256)).data.length).toBe(8192);
    expect(calls.get('/tile/0/001')).toBe(3);
    expect(await code(fetcher({ retries: 3 }).hashTile(0, 4n, 256))).toBe('FETCH_FAILED');
    expect(calls.get('/tile/0/004')).toBe(1);
    expect(await code(fetcher().hashTile(0, 9n, 256))).toBe('FETCH_NOT_FOUND');
  });

  it('bounds sizes (after gzip decoding) and time', async () => {
    expect(await code(fetcher().hashTile(0, 2n, 256))).toBe('FETCH_TOO_LARGE');
    expect(await code(fetcher().entryBundle(1n, 256))).toBe('FETCH_TOO_LARGE');
    expect(await code(fetcher({ timeoutMs: 100 }).hashTile(0, 3n, 256))).toBe('FETCH_FAILED');
    const small = new TilesFetcher({ url, maxCheckpointBytes: 5, fetch: fetchImpl });
    expect(await code(small.checkpoint())).toBe('FETCH_TOO_LARGE');
  });

  it('refuses bundles with the wrong number of entries or a truncated entry', async () => {
    expect(await code(fetcher().entryBundle(2n, 3))).toBe('TILE_MALFORMED');
    expect(await code(fetcher().entryBundle(3n, 3))).toBe('TILE_MALFORMED');
  });

  it('follows a redirect, but not forever', async () => {
    expect(Buffer.from((await fetcher().hashTile(0, 5n, 256)).data)).toEqual(fullTile);
    expect(await code(fetcher().hashTile(0, 6n, 256))).toBe('FETCH_FAILED');
  });

  it('stops when the caller aborts', async () => {
    const stop = new AbortController();
    const pending = fetcher().hashTile(0, 3n, 256, stop.signal);
    stop.abort(new Error('stopped'));
    await expect(pending).rejects.toThrow('stopped');
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => new TilesFetcher({ url: 'file:///etc/' })).toThrow(
      expect.objectContaining({ code: 'MONITOR_CONFIG_INVALID' }) as Error,
    );
  });
});
