/**
 * The ingest router end to end, all parts real on loopback: the routing
 * matrix (checked from the sites' ingest logs through their tlog-tiles API
 * only), refusals with their codes, and the outbox while a site is down.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type StoredEntry,
  designatedSite,
  parseIngestLogEntry,
  regionCodes,
} from '@glasshouse/residency';
import { generateEd25519KeyPair } from '@glasshouse/residency';
import { VerifiedTail } from '../src/view/tail.js';
import { witnessLines } from './residency-fixture.js';
import {
  type Agent,
  type RunningRouter,
  type TestSite,
  type World,
  agentOf,
  enrollAgent,
  startRouter,
  startWorld,
} from './router-world.js';

let world: World;
let r: RunningRouter;

beforeAll(async () => {
  world = await startWorld();
  r = await startRouter(world);
}, 30_000);

afterAll(async () => {
  await r.router.close();
  await world.close();
});

/** The `stored` entries of a site's ingest log, read through its tlog-tiles API alone. */
async function storedAt(site: TestSite): Promise<StoredEntry[]> {
  const tail = new VerifiedTail({
    url: `${site.url}log/`,
    policy: `log ${site.description.verifierKey}\n${witnessLines(world.witness)}`,
  });
  try {
    const update = await tail.step(null);
    return update.entries
      .map((e) => parseIngestLogEntry(e.data))
      .filter((e): e is StoredEntry => e.kind === 'stored');
  } finally {
    tail.close();
  }
}

describe('ingest router', () => {
  it('routes every region of the demo policy to its designated site and no other', async () => {
    const regions = regionCodes();
    const agents = await Promise.all(regions.map((region) => enrollAgent(world, r.url, region)));
    const sent = new Map<string, string>();
    await Promise.all(
      agents.map(async (agent) => {
        const res = await agent.send(await agent.batch());
        expect(res.status).toBe(200);
        const want = designatedSite(world.policy, agent.customer.region).id;
        expect(res.body.site).toBe(want);
        expect(res.body.status).toBe('stored');
        expect(typeof res.body.receipt).toBe('string');
        sent.set(res.body.batch as string, want);
      }),
    );
    const zurich = await storedAt(world.sites.zurich);
    const other = await storedAt(world.sites.other);
    for (const [site, entries] of [
      ['ch-zrh', zurich],
      ['us-iad', other],
    ] as const) {
      for (const e of entries) {
        expect(e.site).toBe(site);
        expect(designatedSite(world.policy, e.region).id).toBe(site);
      }
    }
    // Each batch exactly once, at its designated site.
    for (const [batch, site] of sent) {
      const at = [...zurich, ...other].filter((e) => e.batch === batch);
      expect(at.length).toBe(1);
      expect(at[0]?.site).toBe(site);
    }
    expect(new Set(zurich.map((e) => e.region))).toEqual(
      new Set(['NA', 'EU', 'AU', 'KR', 'JP', 'SG']),
    );
    expect(other.every((e) => !['NA', 'EU', 'AU', 'KR', 'JP', 'SG'].includes(e.region))).toBe(true);
  }, 20_000);

  it('refuses a device that is not registered, a replayed request, and bad batches', async () => {
    const agent = await enrollAgent(world, r.url, 'EU');
    // An unregistered device of an enrolled customer.
    const stranger = agentOf(world, r.url, agent.customer, generateEd25519KeyPair());
    const refused = await stranger.send(await stranger.batch());
    expect(refused).toMatchObject({ status: 401, body: { code: 'DEVICE_NOT_ENROLLED' } });

    // The same signed request twice.
    const bytes = await agent.batch();
    const url = new URL('v1/batches', r.url).href;
    const headers = agent.signer.sign({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body: bytes,
    });
    const once = await fetch(url, {
      method: 'POST',
      body: bytes,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(once.status).toBe(200);
    const twice = await fetch(url, {
      method: 'POST',
      body: bytes,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(twice.status).toBe(401);
    expect(((await twice.json()) as { code: string }).code).toBe('REQUEST_REPLAYED');

    // Oversize, malformed, another region than the enrolled one.
    const big = await agent.send(new Uint8Array(1024 * 1024 + 1).fill(0x20));
    expect(big).toMatchObject({ status: 413, body: { code: 'BATCH_TOO_LARGE' } });
    const junk = await agent.send(new TextEncoder().encode('{"schema":"nope"}\n'));
    expect(junk).toMatchObject({ status: 400, body: { code: 'BATCH_INVALID' } });
    const elsewhere = await agent.send(await agent.batch(1, 'LATAM'));
    expect(elsewhere).toMatchObject({ status: 403, body: { code: 'REGION_MISMATCH' } });
    // A device may not speak for another customer.
    const other = await enrollAgent(world, r.url, 'EU', { register: false });
    const foreign = await agent.send(await other.batch());
    expect(foreign).toMatchObject({ status: 403, body: { code: 'CUSTOMER_MISMATCH' } });
  }, 60_000);

  it('refuses a declared oversize body before reading it, and a device over its rate limit with 429', async () => {
    // Headers only, no signature, a Content-Length over the limit, and no body ever sent:
    // the answer comes from the declared size alone.
    const target = new URL('v1/batches', r.url);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        target,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': 64 * 1024 * 1024 },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(answer.status).toBe(413);
    expect((JSON.parse(answer.body) as { code: string }).code).toBe('BATCH_TOO_LARGE');

    // A router allowing each device 2 requests at once and almost nothing more.
    const limited = await startRouter(world, { deviceRateLimit: { burst: 2, perSecond: 0.01 } });
    try {
      const agent = await enrollAgent(world, limited.url, 'EU');
      const other = await enrollAgent(world, limited.url, 'EU');
      expect((await agent.send(await agent.batch(1))).status).toBe(200);
      expect((await agent.send(await agent.batch(1))).status).toBe(200);
      const third = await agent.send(await agent.batch(1));
      expect(third).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
      // Another device has its own budget.
      expect((await other.send(await other.batch(1))).status).toBe(200);
    } finally {
      await limited.router.close();
    }
  }, 20_000);

  it('holds a batch in the outbox while its site is down and delivers it once when it returns', async () => {
    const agent: Agent = await enrollAgent(world, r.url, 'JP');
    const zurich = world.sites.zurich;
    const before = (await storedAt(world.sites.other)).length;
    await zurich.stop();
    const res = await agent.send(await agent.batch(3));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ site: 'ch-zrh', status: 'queued' });
    const digest = res.body.batch as string;
    // Nothing went anywhere else meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await storedAt(world.sites.other)).length).toBe(before);
    expect(r.router.store.get(digest)?.attempts).toBeGreaterThan(0);

    await zurich.start();
    const deadline = Date.now() + 30_000;
    let status = 'queued';
    while (status !== 'stored' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const url = new URL(`v1/batches/${digest}`, r.url).href;
      const headers = agent.signer.sign({
        method: 'GET',
        url,
        headers: {},
        body: new Uint8Array(),
      });
      const got = await fetch(url, { headers });
      expect(got.status).toBe(200);
      status = ((await got.json()) as { status: string }).status;
    }
    expect(status).toBe('stored');
    const entries = (await storedAt(zurich)).filter((e) => e.batch === digest);
    expect(entries.length).toBe(1);
    expect((await storedAt(world.sites.other)).length).toBe(before);
  }, 60_000);
});
