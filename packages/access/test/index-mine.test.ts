/**
 * The index service and `access mine` end to end: a real witness, a real
 * access log and output log on loopback, the index service's HTTP API, and
 * the customer's check (issue 17 §6 and its completeness tests).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../db/test/postgres-fixture.js';
import { accessIndexKey, parseAccessRecord } from '@glasshouse/access-format';
import {
  IndexService,
  type IndexStore,
  buildIndexServer,
  checkMyAccesses,
  openPostgresIndexStore,
  openSqliteIndexStore,
  type MineOptions,
} from '../src/index.js';
import { type World, appendAccesses, newCustomer, startWorld } from './fixture.js';

let db: TestDatabase | undefined;
const dbUrl = (): string => {
  if (db === undefined) throw new Error('the test database is created in beforeAll');
  return db.url;
};

let world: World;
const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  // Each test has its own logs: a fork published in one must not leak into the next.
  world = await startWorld();
});

beforeAll(async () => {
  db = await createTestDatabase('access_svc');
});

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
  await world.close();
});

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await db?.drop();
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'gh-access-index-'));
  dirs.push(d);
  return d;
}

interface Running {
  readonly service: IndexService;
  readonly url: string;
  stop(): Promise<void>;
}

/** An index service over the world's logs, served on loopback. */
async function startIndex(
  store: IndexStore,
  mapFn?: (entry: Uint8Array) => string | null,
): Promise<Running> {
  const service = await IndexService.open({
    accessLogUrl: world.accessLog.url,
    accessLogPolicy: world.accessLog.policy,
    outputLogUrl: world.outputLog.url,
    store,
    ...(mapFn === undefined ? {} : { mapFn }),
  });
  const app: FastifyInstance = buildIndexServer({ service });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await service.close();
  };
  cleanups.push(stop);
  return { service, url, stop };
}

function mine(indexUrl: string, customer: string, more: Partial<MineOptions> = {}): MineOptions {
  return {
    customer,
    indexUrl,
    accessLogUrl: world.accessLog.url,
    accessLogPolicy: world.accessLog.policy,
    outputLogUrl: world.outputLog.url,
    outputLogPolicy: world.outputLog.policy,
    ...more,
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'no error';
}

/** Each entry makes a fresh storage location and returns how to open it (again, after a restart). */
const stores: [string, () => Promise<() => Promise<IndexStore>>][] = [
  [
    'SQLite',
    async () => {
      const dir = await tempDir();
      return () => Promise.resolve(openSqliteIndexStore({ dir }));
    },
  ],
  [
    'PostgreSQL',
    () => {
      const schema = `i_${randomBytes(4).toString('hex')}`;
      return Promise.resolve(() => openPostgresIndexStore(dbUrl(), { schema, poolSize: 2 }));
    },
  ],
];

describe.each(stores)('index service on %s', (_name, location) => {
  it('publishes a witnessed revision per access-log checkpoint, reopens without replay, and access mine verifies', async () => {
    const [a, b] = [newCustomer().pseudonym, newCustomer().pseudonym];
    const counters = new Map<string, number>();
    const first = await appendAccesses(world.accessLog, [a, b, a, a], counters);
    const openStore = await location();
    let idx = await startIndex(await openStore());
    const r1 = await idx.service.step();
    const size1 = r1.published!.size;
    expect(size1).toBe(first[3]! + 1n);
    const stateFile = join(await tempDir(), 'mine.json');
    const seen = await checkMyAccesses(mine(idx.url, a, { stateFile }));
    expect(seen.size).toBe(size1);
    expect(seen.records.map((r) => r.index)).toEqual([first[0], first[2], first[3]]);
    expect(seen.records.map((r) => r.record.counter)).toEqual([1, 2, 3]);
    // Nothing new: no new revision.
    expect((await idx.service.step()).published).toBeNull();

    // A restart reopens the saved index: same revision, same answers, nothing replayed.
    const before = await idx.service.lookup(a);
    await idx.stop();
    idx = await startIndex(await openStore());
    expect(idx.service.size).toBe(size1);
    expect(idx.service.published?.outputIndex).toBe(r1.published!.outputIndex);
    expect(await idx.service.lookup(a)).toEqual(before);

    await appendAccesses(world.accessLog, [b, a], counters);
    const r2 = await idx.service.step();
    expect(r2.indexed).toBe(Number(r2.published!.size - size1));
    const again = await checkMyAccesses(mine(idx.url, a, { stateFile }));
    expect(again.records.map((r) => r.record.counter)).toEqual([1, 2, 3, 4]);
    const other = await checkMyAccesses(mine(idx.url, b));
    expect(other.records.map((r) => r.record.customer)).toEqual([b, b]);
    // A customer never accessed: an empty list, proved absent.
    const nobody = await checkMyAccesses(mine(idx.url, newCustomer().pseudonym));
    expect(nobody.records).toEqual([]);
  });
});

describe('access mine detects', () => {
  it('a record hidden from the served list (LOOKUP_PROOF_MISMATCH)', async () => {
    const c = newCustomer().pseudonym;
    await appendAccesses(world.accessLog, [c, c, c]);
    const idx = await startIndex(openSqliteIndexStore({ dir: await tempDir() }));
    await idx.service.step();
    // The index service's answer passes through a party that drops the second index.
    const hiding: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (!url.includes('/v1/lookup/')) return res;
      const body = (await res.json()) as { indices: string[] };
      body.indices.splice(1, 1);
      return new Response(JSON.stringify(body), { status: 200 });
    };
    expect(await code(checkMyAccesses(mine(idx.url, c, { fetch: hiding })))).toBe(
      'LOOKUP_PROOF_MISMATCH',
    );
    expect((await checkMyAccesses(mine(idx.url, c))).records).toHaveLength(3);
  });

  /** A MapFn that leaves out record `counter` of customer `c`: the list and the root agree, the counters do not. */
  const dropping =
    (c: string, counter: number) =>
    (entry: Uint8Array): string | null => {
      const r = parseAccessRecord(entry);
      return r.customer === c && r.counter === counter ? null : accessIndexKey(entry);
    };

  it('an index built without one of the customer records (RECORD_OMITTED: the counters have a gap)', async () => {
    const c = newCustomer().pseudonym;
    await appendAccesses(world.accessLog, [c, c, c]);
    const bad = await startIndex(openSqliteIndexStore({ dir: await tempDir() }), dropping(c, 2));
    await bad.service.step();
    expect(await code(checkMyAccesses(mine(bad.url, c)))).toBe('RECORD_OMITTED');
  });

  it("an index built without the customer's latest record, known from a receipt (RECORD_OMITTED)", async () => {
    const c = newCustomer().pseudonym;
    const indices = await appendAccesses(world.accessLog, [c, c, c]);
    const bad = await startIndex(openSqliteIndexStore({ dir: await tempDir() }), dropping(c, 3));
    await bad.service.step();
    // Without anything else the list 1, 2 is consistent; the receipt of access 3 says otherwise.
    expect((await checkMyAccesses(mine(bad.url, c))).records).toHaveLength(2);
    expect(await code(checkMyAccesses(mine(bad.url, c, { known: [indices[2]!] })))).toBe(
      'RECORD_OMITTED',
    );
  });

  it('a later index that leaves out a record an earlier run saw (RECORD_OMITTED, remembered across runs)', async () => {
    const c = newCustomer().pseudonym;
    const counters = new Map<string, number>();
    await appendAccesses(world.accessLog, [c, c, c], counters);
    const honest = await startIndex(openSqliteIndexStore({ dir: await tempDir() }));
    await honest.service.step();
    const stateFile = join(await tempDir(), 'mine.json');
    expect((await checkMyAccesses(mine(honest.url, c, { stateFile }))).records).toHaveLength(3);
    await honest.stop();
    // Kept by the previous version of access mine (the output log's tail as encoded text): read forward.
    const v2 = JSON.parse(await readFile(stateFile, 'utf8')) as { output: { checkpoint: string } };
    const origin = v2.output.checkpoint.split('\n')[0];
    await writeFile(
      stateFile,
      JSON.stringify({ ...v2, v: 1, output: JSON.stringify({ v: 1, origin, ...v2.output }) }),
    );
    await appendAccesses(world.accessLog, [newCustomer().pseudonym]);
    // The vendor swaps in an index that drops access 3; it publishes at the new size only.
    const bad = await startIndex(openSqliteIndexStore({ dir: await tempDir() }), dropping(c, 3));
    await bad.service.step();
    expect(await code(checkMyAccesses(mine(bad.url, c, { stateFile })))).toBe('RECORD_OMITTED');
  });

  it('a fork: two index roots at one access-log size, for two customers and across runs (INDEX_FORK)', async () => {
    const [a, b] = [newCustomer().pseudonym, newCustomer().pseudonym];
    await appendAccesses(world.accessLog, [a, b, a]);
    const honest = await startIndex(openSqliteIndexStore({ dir: await tempDir() }));
    await honest.service.step();
    const dir = await tempDir();
    const stateA = join(dir, 'a.json');
    const stateB = join(dir, 'b.json');
    expect(
      (await checkMyAccesses(mine(honest.url, a, { stateFile: stateA }))).records,
    ).toHaveLength(2);
    expect(
      (await checkMyAccesses(mine(honest.url, b, { stateFile: stateB }))).records,
    ).toHaveLength(1);
    // A second index (another MapFn: b's record is left out) publishes another root at the same size.
    const forked = await startIndex(openSqliteIndexStore({ dir: await tempDir() }), (entry) =>
      accessIndexKey(entry) === b ? null : accessIndexKey(entry),
    );
    const r = await forked.service.step();
    expect(r.published?.size).toBe(honest.service.published?.size);
    // Shown to b, who remembers the honest revision from its last run; and to a, from the honest index.
    expect(await code(checkMyAccesses(mine(forked.url, b, { stateFile: stateB })))).toBe(
      'INDEX_FORK',
    );
    expect(await code(checkMyAccesses(mine(honest.url, a, { stateFile: stateA })))).toBe(
      'INDEX_FORK',
    );
    // A fresh customer reading the output log from the start sees both entries too.
    expect(await code(checkMyAccesses(mine(honest.url, newCustomer().pseudonym)))).toBe(
      'INDEX_FORK',
    );
  });

  it('an answer from a revision not in the output log (OUTPUT_ENTRY_NOT_LOGGED) and a bad answer', async () => {
    const c = newCustomer().pseudonym;
    await appendAccesses(world.accessLog, [c]);
    const idx = await startIndex(openSqliteIndexStore({ dir: await tempDir() }));
    await idx.service.step();
    const swap: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (!url.includes('/v1/lookup/')) return res;
      const body = (await res.json()) as { entry: string };
      const entry = JSON.parse(Buffer.from(body.entry, 'base64').toString()) as { size: number };
      entry.size += 1000;
      body.entry = Buffer.from(JSON.stringify(entry)).toString('base64');
      return new Response(JSON.stringify(body), { status: 200 });
    };
    expect(await code(checkMyAccesses(mine(idx.url, c, { fetch: swap })))).toBe(
      'OUTPUT_ENTRY_NOT_LOGGED',
    );
    const garbage: typeof fetch = async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (url.includes('/v1/lookup/')) return new Response('{"customer":1}', { status: 200 });
      return fetch(input, init);
    };
    expect(await code(checkMyAccesses(mine(idx.url, c, { fetch: garbage })))).toBe(
      'INDEX_ANSWER_INVALID',
    );
    expect(await code(checkMyAccesses(mine(idx.url, 'not-a-customer')))).toBe('CONFIG_INVALID');
  });
});
