// The data site end to end over loopback HTTP: real residency state, real
// ingest log witnessed by a real witness, real RFC 9421 signatures.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowList, RequestSigner, signedFetch } from '@glasshouse/httpsig';
import {
  batchDigest,
  checkReputation,
  openBatchKey,
  openPersonal,
  parseBatch,
  parseIngestLogEntry,
} from '@glasshouse/residency';
import { verdictListOf } from '@glasshouse/release-format';
import { decodeBundle, parsePolicy, verifyTlogProof } from '@glasshouse/tlog';
import { type DataSite, buildSiteServer, openSite } from '@glasshouse/telemetry';
import {
  HOST,
  PATH,
  type ResidencyWorld,
  type TestWitness,
  USER,
  ZURICH,
  makeBatch,
  newLogKey,
  residencyWorld,
  startTestWitness,
} from './fixtures.js';

let dir: string;
let world: ResidencyWorld;
let witness: TestWitness;
let site: DataSite;
let app: FastifyInstance;
let url: string;
let routerFetch: typeof fetch;
let strangerFetch: typeof fetch;
let logKey: { signerKey: string; verifierKey: string };
let now = Date.parse('2026-12-04T17:30:00Z');
const HOUR = 3_600_000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-site-'));
  logKey = newLogKey(ZURICH);
  world = await residencyWorld({
    zurich: logKey.verifierKey,
    other: newLogKey('us-iad').verifierKey,
  });
  witness = await startTestWitness([logKey.verifierKey]);
  site = await openSite({
    siteId: ZURICH,
    dir,
    logSignerKey: logKey.signerKey,
    witnessing: witness.witnessing(logKey.verifierKey),
    residency: { current: () => world.state },
    now: () => now,
    log: { sequencer: { batchDelayMs: 5 }, integrator: { intervalMs: 20 }, pollMs: 10 },
    receiptTimeoutMs: 10_000,
  });
  const router = generateKeyPairSync('ed25519');
  const stranger = generateKeyPairSync('ed25519');
  app = buildSiteServer({
    site,
    writers: {
      allowList: new AllowList([
        { name: 'router', publicKey: router.publicKey, allow: ['POST /v1/batches'] },
        { name: 'someone else', publicKey: stranger.publicKey, allow: ['POST /other'] },
      ]),
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  url = `http://127.0.0.1:${address.port}`;
  routerFetch = signedFetch(new RequestSigner({ privateKey: router.privateKey }));
  strangerFetch = signedFetch(new RequestSigner({ privateKey: stranger.privateKey }));
});

afterAll(async () => {
  await app.close();
  await site.close();
  await witness.close();
  await rm(dir, { recursive: true, force: true });
});

async function post(
  bytes: Uint8Array,
  opts: { policy?: string | null; fetcher?: typeof fetch } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const policy = opts.policy === undefined ? world.policy : opts.policy;
  if (policy !== null) headers['glasshouse-policy'] = policy;
  const res = await (opts.fetcher ?? routerFetch)(`${url}/v1/batches`, {
    method: 'POST',
    headers,
    body: bytes,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function batchCount(): Promise<number> {
  return (await site.storage.summary()).batches;
}

/** Entry `index` of the ingest log, read through the tlog-tiles API only. */
async function logEntryAt(index: number): Promise<Uint8Array> {
  const res = await fetch(`${url}/log/tile/entries/000.p/${index + 1}`);
  expect(res.status).toBe(200);
  return decodeBundle(new Uint8Array(await res.arrayBuffer()))[index]!;
}

describe('data site: ingestion', () => {
  it('stores a batch of its region and answers with a receipt a verifier accepts', async () => {
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU', n: 4 });
    const res = await post(bytes);
    expect(res.status).toBe(200);
    expect(res.body.batch).toBe(batchDigest(bytes));
    const index = res.body.index as number;
    const entry = await logEntryAt(index);
    expect(parseIngestLogEntry(entry)).toMatchObject({
      kind: 'stored',
      site: ZURICH,
      policy: world.policy,
      customer: world.euCustomer,
      region: 'EU',
      events: 4,
      batch: batchDigest(bytes),
      storedAt: new Date(now).toISOString(),
    });
    // c2sp.org/tlog-proof: the receipt verifies under the log key and the witness quorum.
    const policy = parsePolicy(witness.policyText(logKey.verifierKey));
    expect(verifyTlogProof(res.body.receipt as string, entry, policy).index).toBe(BigInt(index));
  });

  it('refuses a region the policy does not designate to it: code, nothing stored', async () => {
    const before = await batchCount();
    const bytes = await makeBatch(world, { customer: world.latamCustomer, region: 'LATAM' });
    const res = await post(bytes);
    expect([res.status, res.body.code]).toEqual([403, 'REGION_NOT_DESIGNATED_HERE']);
    expect(await batchCount()).toBe(before);
    expect(await site.storage.batch(batchDigest(bytes))).toBeNull();
  });

  it("refuses a batch whose region is not the customer's logged enrollment", async () => {
    const bytes = await makeBatch(world, { customer: world.latamCustomer, region: 'EU' });
    const res = await post(bytes);
    expect([res.status, res.body.code]).toEqual([403, 'ENROLLMENT_MISMATCH']);
    const stranger = await makeBatch(world, { customer: `c-${'e'.repeat(32)}`, region: 'EU' });
    expect((await post(stranger)).body.code).toBe('CUSTOMER_NOT_ENROLLED');
    expect(await site.storage.batch(batchDigest(bytes))).toBeNull();
  });

  it('refuses a policy that is not logged, and a missing policy header', async () => {
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU' });
    const res = await post(bytes, { policy: `sha256:${'0'.repeat(64)}` });
    expect([res.status, res.body.code]).toEqual([409, 'POLICY_UNKNOWN']);
    const none = await post(bytes, { policy: null });
    expect([none.status, none.body.code]).toEqual([400, 'POLICY_HEADER_INVALID']);
    expect(await site.storage.batch(batchDigest(bytes))).toBeNull();
  });

  it('answers a re-sent batch with the first result and stores it once', async () => {
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU' });
    const before = await batchCount();
    const [a, b] = await Promise.all([post(bytes), post(bytes)]);
    const c = await post(bytes);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200]);
    expect(b.body.index).toBe(a.body.index);
    expect(c.body.index).toBe(a.body.index);
    expect(await batchCount()).toBe(before + 1);
  });

  it('refuses oversize and malformed batches with codes', async () => {
    const before = await batchCount();
    const big = await post(new Uint8Array(1024 * 1024 + 1).fill(0x20));
    expect([big.status, big.body.code]).toEqual([413, 'BATCH_TOO_LARGE']);
    const junk = await post(new TextEncoder().encode('{"schema":"glasshouse.telemetry-batch/v1"'));
    expect([junk.status, junk.body.code]).toEqual([400, 'BATCH_INVALID']);
    const good = await makeBatch(world, { customer: world.euCustomer, region: 'EU' });
    const parsed = JSON.parse(new TextDecoder().decode(good)) as Record<string, unknown>;
    const extra = new TextEncoder().encode(JSON.stringify({ ...parsed, extra: 1 }));
    expect((await post(extra)).body.code).toBe('BATCH_INVALID');
    const empty = await post(new Uint8Array(0));
    expect(empty.body.code).toBe('BATCH_INVALID');
    expect(await batchCount()).toBe(before);
  });

  it('takes batches only from the router: unsigned 401, other callers 403', async () => {
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU' });
    const unsigned = await post(bytes, { fetcher: fetch });
    expect([unsigned.status, unsigned.body.code]).toEqual([401, 'AUTH_SIGNATURE_MISSING']);
    const other = await post(bytes, { fetcher: strangerFetch });
    expect([other.status, other.body.code]).toEqual([403, 'AUTH_KEY_NOT_ALLOWED']);
    expect(await site.storage.batch(batchDigest(bytes))).toBeNull();
  });

  it('keeps personal fields as ciphertext; only the key-release private key opens them', async () => {
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU', n: 2 });
    expect((await post(bytes)).status).toBe(200);
    // The database files as anyone with disk access sees them.
    const raw = Buffer.concat(
      await Promise.all(
        ['site.sqlite', 'site.sqlite-wal'].map((f) =>
          readFile(join(dir, f)).catch(() => Buffer.alloc(0)),
        ),
      ),
    );
    for (const secret of [HOST, USER, PATH, 'd-0123456789abcdef']) {
      expect(raw.includes(secret)).toBe(false);
    }
    const batch = parseBatch(bytes);
    expect(raw.includes(Buffer.from(batch.events[1]!.personal, 'base64'))).toBe(true);
    // The round trip needs the supervisor's key-release private key.
    const key = await openBatchKey(batch, world.keyRelease.privateKey);
    expect(await openPersonal(batch, 1, key)).toMatchObject({ host: HOST, user: USER, path: PATH });
  });
});

describe('data site: reputation, summary, retention', () => {
  const bad = 'b'.repeat(64);
  const good = 'c'.repeat(64);
  const listed = 'd'.repeat(64);

  it('answers single and batched lookups from telemetry and verdict lists', async () => {
    const bytes = await makeBatch(world, {
      customer: world.euCustomer,
      region: 'EU',
      n: 2,
      sha: (i) => (i === 0 ? bad : good),
    });
    expect((await post(bytes)).status).toBe(200);
    const list = verdictListOf({ name: 'demo-verdicts', version: '1.0.0' }, [
      { path: 'good.txt', text: `${listed} known-good\n` },
    ]);
    expect(await site.importVerdictList(list)).toBe(1);

    const one = await fetch(`${url}/reputation/${bad}`);
    expect(one.status).toBe(200);
    expect(checkReputation(await one.json())).toEqual({
      sha256: bad,
      verdict: 'known-bad',
      firstSeen: '2026-12-04T16:00:00Z',
      detections: 1,
      source: ['telemetry'],
    });
    const many = await fetch(`${url}/reputation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sha256: [good, listed, 'a'.repeat(64)] }),
    });
    const results = ((await many.json()) as { results: unknown[] }).results.map(checkReputation);
    expect(results.map((r) => [r.verdict, r.source])).toEqual([
      ['unknown', ['telemetry']],
      ['known-good', ['verdict-list']],
      ['unknown', []],
    ]);
  });

  it('refuses malformed lookups with codes', async () => {
    expect(((await (await fetch(`${url}/reputation/XYZ`)).json()) as { code: string }).code).toBe(
      'HASH_INVALID',
    );
    const tooMany = await fetch(`${url}/reputation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sha256: Array.from({ length: 10_001 }, () => bad) }),
    });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as { code: string }).code).toBe('TOO_MANY_HASHES');
    const junk = await fetch(`${url}/reputation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"sha256": [1]}',
    });
    expect([junk.status, ((await junk.json()) as { code: string }).code]).toEqual([
      400,
      'HASH_INVALID',
    ]);
  });

  it('deletes old batches, logs each deletion, and stays idempotent for them', async () => {
    const old = await makeBatch(world, { customer: world.euCustomer, region: 'EU' });
    const first = await post(old);
    expect(first.status).toBe(200);
    const before = await site.storage.summary();
    now += 48 * HOUR;
    const deleted = await site.ingest.retain(24 * HOUR);
    expect(deleted).toContain(batchDigest(old));
    const summary = (await (await fetch(`${url}/v1/summary`)).json()) as Record<string, unknown>;
    expect(summary).toMatchObject({
      site: ZURICH,
      regions: ['EU'],
      batches: 0,
      events: 0,
      deletedBatches: before.batches + before.deletedBatches,
    });
    // The deletion is an ingest-log entry, readable through the tiles API once published.
    const size = await site.logStorage.sequencedSize();
    await site.log.waitForCheckpoint(size - 1n);
    const last = await logEntryAt(Number(size) - 1);
    expect(parseIngestLogEntry(last)).toMatchObject({
      kind: 'deleted',
      site: ZURICH,
      olderThan: new Date(now - 24 * HOUR).toISOString(),
    });
    // Re-sending a deleted batch answers its first result and stores nothing.
    const again = await post(old);
    expect([again.status, again.body.index]).toEqual([200, first.body.index]);
    expect((await site.storage.summary()).batches).toBe(0);
  });

  it('serves the checkpoint, health and metrics', async () => {
    const cp = await fetch(`${url}/log/checkpoint`);
    expect(cp.status).toBe(200);
    expect((await cp.text()).startsWith(`localhost/glasshouse/site/${ZURICH}\n`)).toBe(true);
    expect((await fetch(`${url}/log/tile/bogus`)).status).toBe(400);
    const health = (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ok: true, site: ZURICH, witnessing: 'required' });
    expect(site.storage.failure?.()).toBeUndefined();
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('glasshouse_site_batches_stored_total');
    expect(metrics).toContain(
      'glasshouse_site_batches_refused_total{code="REGION_NOT_DESIGNATED_HERE"}',
    );
  });
});

// Last: it closes the shared site's storage.
describe('data site: storage gone', () => {
  it('answers /healthz with 503 and its code, and stores nothing, once its storage can serve nothing', async () => {
    await site.storage.close();
    expect(site.storage.failure?.()).toMatchObject({ code: 'CLOSED' });
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, site: ZURICH, code: 'CLOSED' });
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU', n: 2 });
    expect((await post(bytes)).status).toBe(503);
  });
});
