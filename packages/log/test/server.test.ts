import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import {
  decodeBundle,
  encodeBundle,
  hashLeaf,
  parsePolicy,
  verifyInclusion,
  verifyTlogProof,
  decodeBase64Strict,
} from '@glasshouse/tlog';
import { buildServer } from '../src/server.js';
import { makeTestLog, utf8, type TestLog } from './fixtures.js';

let t: TestLog;
let app: FastifyInstance;

beforeEach(async () => {
  t = await makeTestLog();
  app = buildServer({ log: t.log, maxBatchEntries: 64, waitTimeoutMs: 10_000 });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await t.close();
});

const b64 = (s: string): Uint8Array => decodeBase64Strict(s) ?? new Uint8Array();

describe('write API', () => {
  it('POST /add answers with the index and leaf hash once durable', async () => {
    const res = await app.inject({ method: 'POST', url: '/add', payload: Buffer.from('hello') });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ index: number; leafHash: string }>();
    expect(body.index).toBe(0);
    expect(Buffer.from(b64(body.leafHash))).toEqual(Buffer.from(hashLeaf(utf8('hello'))));
    expect(await t.storage.sequencedSize()).toBe(1n);
  });

  it('POST /add?wait=checkpoint adds a checkpoint and a receipt that verifies', async () => {
    const entry = utf8('wait for me');
    const res = await app.inject({
      method: 'POST',
      url: '/add?wait=checkpoint',
      payload: Buffer.from(entry),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ index: number; checkpoint: string; receipt: string }>();
    expect(body.receipt.endsWith(body.checkpoint)).toBe(true);
    const policy = parsePolicy(`log ${t.verifierKey}\nquorum none\n`);
    expect(verifyTlogProof(body.receipt, entry, policy).index).toBe(BigInt(body.index));
  });

  it('POST /add-batch takes an entry bundle and dedups on request', async () => {
    const entries = [utf8('a'), utf8('b'), utf8('a')];
    const res = await app.inject({
      method: 'POST',
      url: '/add-batch?dedup',
      payload: Buffer.from(encodeBundle(entries)),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ indices: [0, 1, 0] });
    const waited = await app.inject({
      method: 'POST',
      url: '/add-batch?wait=checkpoint',
      payload: Buffer.from(encodeBundle([utf8('c'), utf8('d')])),
    });
    const body = waited.json<{ indices: number[]; receipts: string[] }>();
    expect(body.indices).toEqual([2, 3]);
    const policy = parsePolicy(`log ${t.verifierKey}\nquorum none\n`);
    expect(verifyTlogProof(body.receipts[1] ?? '', utf8('d'), policy).index).toBe(3n);
  });

  it('answers bad input with 4xx and a code, and keeps serving', async () => {
    const cases: [string, string, Buffer, number, string][] = [
      ['POST', '/add', Buffer.alloc(0), 400, 'ENTRY_EMPTY'],
      ['POST', '/add', Buffer.alloc(65_536, 1), 413, 'ENTRY_TOO_LARGE'],
      ['POST', '/add?wait=soon', Buffer.from('x'), 400, 'BAD_REQUEST'],
      ['POST', '/add?dedup=maybe', Buffer.from('x'), 400, 'BAD_REQUEST'],
      ['POST', '/add-batch', Buffer.from([0, 5, 1]), 400, 'BATCH_MALFORMED'],
      ['POST', '/add-batch', Buffer.from([0]), 400, 'BATCH_MALFORMED'],
      ['POST', '/add-batch', Buffer.alloc(0), 400, 'BATCH_MALFORMED'],
      ['POST', '/add-batch', Buffer.from([0, 0]), 400, 'ENTRY_EMPTY'],
      ['POST', '/add-batch', Buffer.from(encodeBundleN(65)), 413, 'BATCH_TOO_LARGE'],
    ];
    for (const [method, url, payload, status, code] of cases) {
      const res = await app.inject({ method: method as 'POST', url, payload });
      expect([url, res.statusCode, res.json<{ code: string }>().code]).toEqual([url, status, code]);
    }
    const gets: [string, number, string][] = [
      ['/tile/0/1', 400, 'BAD_REQUEST'],
      ['/tile/0/x000/001', 400, 'BAD_REQUEST'],
      ['/tile/64/000', 400, 'BAD_REQUEST'],
      ['/tile/0/000.p/256', 400, 'BAD_REQUEST'],
      ['/tile/../../etc/passwd', 404, 'NOT_FOUND'],
      ['/tile/0/..%2f..%2fetc', 400, 'BAD_REQUEST'],
      ['/tile/0/999', 404, 'TILE_NOT_FOUND'],
      ['/proof/inclusion?index=0&size=5', 400, 'SIZE_OUT_OF_RANGE'],
      ['/proof/inclusion?index=abc&size=1', 400, 'BAD_REQUEST'],
      ['/proof/inclusion?index=-1&size=1', 400, 'BAD_REQUEST'],
      ['/proof/inclusion?index=99999999999999999999999&size=1', 400, 'BAD_REQUEST'],
      ['/proof/consistency?old=0&new=0', 400, 'SIZE_OUT_OF_RANGE'],
      ['/proof/consistency?old=x', 400, 'BAD_REQUEST'],
      ['/receipt/0', 400, 'INDEX_OUT_OF_RANGE'],
      ['/receipt/01', 400, 'BAD_REQUEST'],
      ['/nothing-here', 404, 'NOT_FOUND'],
    ];
    for (const [url, status, code] of gets) {
      const res = await app.inject({ method: 'GET', url });
      expect([url, res.statusCode, res.json<{ code: string }>().code]).toEqual([url, status, code]);
    }
    const ok = await app.inject({ method: 'POST', url: '/add', payload: Buffer.from('still up') });
    expect(ok.statusCode).toBe(200);
  });

  it('answers 503 with Retry-After when the queue is full', async () => {
    await app.close();
    await t.close();
    t = await makeTestLog({ sequencer: { maxQueueEntries: 2, batchSize: 100, batchDelayMs: 200 } });
    app = buildServer({ log: t.log });
    const first = app.inject({
      method: 'POST',
      url: '/add-batch',
      payload: Buffer.from(encodeBundleN(2)),
    });
    // Let the first request reach the queue.
    await new Promise((r) => setTimeout(r, 50));
    const res = await app.inject({ method: 'POST', url: '/add', payload: Buffer.from('x') });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json<{ code: string }>().code).toBe('QUEUE_FULL');
    expect((await first).statusCode).toBe(200);
  });
});

describe('read API', () => {
  it('serves the checkpoint, tiles and bundles with the spec headers', async () => {
    const entries = Array.from({ length: 300 }, (_, i) => utf8(`entry ${i}`));
    await t.log.addBatch(entries);
    const cp = await t.log.waitForCheckpoint(299n, 10_000);

    const checkpoint = await app.inject({ method: 'GET', url: '/checkpoint' });
    expect(checkpoint.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(checkpoint.headers['cache-control']).toBe('no-cache');
    expect(checkpoint.body).toBe(cp.note);

    const size = cp.checkpoint.size;
    const partial = Number(size % 256n);
    const tile = await app.inject({ method: 'GET', url: '/tile/0/000' });
    expect(tile.statusCode).toBe(200);
    expect(tile.headers['content-type']).toBe('application/octet-stream');
    expect(tile.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(tile.rawPayload.length).toBe(8192);
    const p = await app.inject({ method: 'GET', url: `/tile/0/001.p/${partial}` });
    expect(p.rawPayload.length).toBe(partial * 32);

    const plain = await app.inject({ method: 'GET', url: '/tile/entries/000' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(decodeBundle(plain.rawPayload).length).toBe(256);
    const gz = await app.inject({
      method: 'GET',
      url: '/tile/entries/000',
      headers: { 'accept-encoding': 'gzip, identity' },
    });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(Buffer.from(gunzipSync(gz.rawPayload))).toEqual(plain.rawPayload);
    const notGz = await app.inject({
      method: 'GET',
      url: '/tile/entries/000',
      headers: { 'accept-encoding': 'gzip;q=0' },
    });
    expect(notGz.headers['content-encoding']).toBeUndefined();
  });

  it('serves proofs, receipts, health and metrics', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => utf8(`p${i}`));
    await t.log.addBatch(entries);
    const cp = await t.log.waitForCheckpoint(39n, 10_000);
    const size = Number(cp.checkpoint.size);
    const inc = await app.inject({ method: 'GET', url: `/proof/inclusion?index=7&size=${size}` });
    const body = inc.json<{ proof: string[] }>();
    verifyInclusion(
      hashLeaf(utf8('p7')),
      7n,
      cp.checkpoint.size,
      body.proof.map(b64),
      cp.checkpoint.rootHash,
    );
    const cons = await app.inject({ method: 'GET', url: `/proof/consistency?old=3&new=${size}` });
    expect(cons.statusCode).toBe(200);
    const receipt = await app.inject({ method: 'GET', url: '/receipt/7' });
    expect(receipt.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(receipt.body.startsWith('c2sp.org/tlog-proof@v1\nindex 7\n')).toBe(true);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).toMatchObject({ ok: true, size, integrating: true });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('glasshouse_log_entries_sequenced_total 40');
    expect(metrics.body).toContain('glasshouse_log_checkpoint_age_seconds');
    expect(metrics.body).toContain('glasshouse_log_add_duration_seconds_bucket');
    // ?wait=checkpoint: the receipt of an entry sequenced a moment ago, once a checkpoint covers it.
    const { index } = await t.log.add(utf8('fresh'));
    const waited = await app.inject({ method: 'GET', url: `/receipt/${index}?wait=checkpoint` });
    expect(waited.statusCode).toBe(200);
    expect(waited.body.startsWith(`c2sp.org/tlog-proof@v1\nindex ${index}\n`)).toBe(true);
    const bad = await app.inject({ method: 'GET', url: '/receipt/7?wait=soon' });
    expect([bad.statusCode, bad.json<{ code: string }>().code]).toEqual([400, 'BAD_REQUEST']);
  });
});

function encodeBundleN(n: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i += 256) {
    parts.push(
      encodeBundle(Array.from({ length: Math.min(256, n - i) }, (_, k) => utf8(`b${i + k}`))),
    );
  }
  return Buffer.concat(parts);
}
