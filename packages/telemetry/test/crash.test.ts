// kill -9 during ingestion: every acknowledged batch is stored exactly once
// and logged exactly once, and the batches that were not acknowledged, sent
// again (as the router's outbox does), are stored once too. SQLite and
// PostgreSQL, the site in a child process (real HTTP, real witness).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../db/test/postgres-fixture.js';
import { type Child, startChild } from '@glasshouse/bench-kit';
import { RequestSigner, rawPublicKey, signedFetch } from '@glasshouse/httpsig';
import { type LogStorage, openPostgresStorage, openSqliteStorage } from '@glasshouse/log';
import { batchDigest, parseIngestLogEntry } from '@glasshouse/residency';
import {
  type SiteStorage,
  openPostgresSiteStorage,
  openSite,
  openSqliteSiteStorage,
} from '@glasshouse/telemetry';
import type { ChildConfig } from './site-child.js';
import {
  type ResidencyWorld,
  type TestWitness,
  ZURICH,
  makeBatch,
  newLogKey,
  residencyWorld,
  startTestWitness,
} from './fixtures.js';

let db: TestDatabase | undefined;
const dbUrl = (): string => {
  if (db === undefined) throw new Error('the test database is created in beforeAll');
  return db.url;
};

let world: ResidencyWorld;
const router = generateKeyPairSync('ed25519');
const post = signedFetch(new RequestSigner({ privateKey: router.privateKey }));
const dirs: string[] = [];

/** Each run is a new site: its own ingest-log key, witnessed by its own witness. */
interface Run {
  readonly dir: string;
  readonly postgres: string | undefined;
  readonly logKey: { signerKey: string; verifierKey: string };
  readonly witness: TestWitness;
}
const witnesses: TestWitness[] = [];

async function newRun(postgres: string | undefined): Promise<Run> {
  const logKey = newLogKey(ZURICH);
  const witness = await startTestWitness([logKey.verifierKey]);
  witnesses.push(witness);
  return { dir: await newDir(), postgres, logKey, witness };
}

beforeAll(async () => {
  world = await residencyWorld({
    zurich: newLogKey(ZURICH).verifierKey,
    other: newLogKey('us-iad').verifierKey,
  });
  db = await createTestDatabase('site_crash');
});

afterAll(async () => {
  for (const w of witnesses) await w.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await db?.drop();
});

async function newDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'glasshouse-site-crash-'));
  dirs.push(d);
  return d;
}

async function startSite(run: Run): Promise<Child<{ url: string }>> {
  const { dir, postgres } = run;
  const config: ChildConfig = {
    dir,
    ...(postgres === undefined ? {} : { postgres }),
    siteId: ZURICH,
    logSignerKey: run.logKey.signerKey,
    witnessPolicy: run.witness.policyText(run.logKey.verifierKey),
    vendorKey: Buffer.from(world.keys.vendorKey).toString('base64'),
    supervisorKey: Buffer.from(world.keys.supervisorKey).toString('base64'),
    entries: world.entries.map((e) => Buffer.from(e).toString('base64')),
    routerKey: Buffer.from(rawPublicKey(router.publicKey)).toString('base64'),
    // Short rounds: many small checkpoints while the site is killed and restarted.
    log: { sequencer: { batchDelayMs: 5 }, integrator: { intervalMs: 20 }, pollMs: 10 },
  };
  const file = join(dir, 'child.json');
  await writeFile(file, JSON.stringify(config));
  return startChild<{ url: string }>(new URL('site-child.ts', import.meta.url), [file], 20_000);
}

async function send(url: string, bytes: Uint8Array): Promise<number | null> {
  try {
    const res = await post(`${url}/v1/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'glasshouse-policy': world.policy },
      body: bytes,
    });
    const body = (await res.json()) as { index?: number };
    return res.status === 200 ? (body.index ?? null) : null;
  } catch {
    // The site died under the request: not acknowledged.
    return null;
  }
}

interface Stores {
  readonly site: SiteStorage;
  readonly log: LogStorage;
  close(): Promise<void>;
}

async function openStores(dir: string, postgres: string | undefined): Promise<Stores> {
  const site =
    postgres === undefined
      ? await openSqliteSiteStorage({ dir })
      : await openPostgresSiteStorage(postgres, { schema: 'site_ch_zrh' });
  const log =
    postgres === undefined
      ? await openSqliteStorage({ dir: join(dir, 'ingest-log') })
      : await openPostgresStorage(postgres, { schema: 'ingest_ch_zrh' });
  return {
    site,
    log,
    close: async () => {
      await site.close();
      await log.close();
    },
  };
}

async function crashRun(postgres: string | undefined, rounds: number): Promise<void> {
  const run = await newRun(postgres);
  const batches = await Promise.all(
    Array.from({ length: 30 }, () =>
      makeBatch(world, { customer: world.euCustomer, region: 'EU', n: 20 }),
    ),
  );
  const acked = new Map<string, number>();
  let next = 0;
  for (let round = 0; round < rounds; round++) {
    const child = await startSite(run);
    // Six concurrent senders; the site is killed after a few acknowledgements, mid-stream.
    const killAt = 3 + Math.floor(Math.random() * 5);
    let ackedThisRound = 0;
    const kill = { done: false };
    const sender = async (): Promise<void> => {
      while (!kill.done && next < batches.length) {
        const bytes = batches[next++]!;
        const index = await send(child.ready.url, bytes);
        if (index !== null) {
          acked.set(batchDigest(bytes), index);
          ackedThisRound += 1;
          if (ackedThisRound === killAt) {
            kill.done = true;
            process.kill(child.pid, 'SIGKILL');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, sender));
    if (!kill.done) process.kill(child.pid, 'SIGKILL');
    await child.stop();
  }
  // Restart; the router re-sends everything (acknowledged or not): each answers 200, same index.
  const child = await startSite(run);
  try {
    const indices = await Promise.all(batches.map((bytes) => send(child.ready.url, bytes)));
    batches.forEach((bytes, i) => {
      const index = indices[i] ?? null;
      expect(index).not.toBeNull();
      const before = acked.get(batchDigest(bytes));
      if (before !== undefined) expect(index).toBe(before);
      acked.set(batchDigest(bytes), index!);
    });
  } finally {
    await child.stop();
  }
  const stores = await openStores(run.dir, postgres);
  try {
    expect(await stores.site.unlogged(10)).toEqual([]);
    expect((await stores.site.summary()).batches).toBe(batches.length);
    const size = await stores.log.sequencedSize();
    const entries = await stores.log.readEntries(0n, Number(size));
    const logged = new Map<string, bigint[]>();
    for (const e of entries) {
      const entry = parseIngestLogEntry(e.data);
      if (entry.kind !== 'stored') continue;
      logged.set(entry.batch, [...(logged.get(entry.batch) ?? []), e.index]);
    }
    for (const bytes of batches) {
      const digest = batchDigest(bytes);
      // Stored once, logged once, at the acknowledged index.
      expect(logged.get(digest)).toEqual([BigInt(acked.get(digest)!)]);
      expect((await stores.site.batch(digest))?.logIndex).toBe(BigInt(acked.get(digest)!));
    }
  } finally {
    await stores.close();
  }
}

describe('data site under kill -9', () => {
  it(
    'SQLite: no acknowledged batch lost, none stored or logged twice',
    { timeout: 90_000 },
    async () => {
      await crashRun(undefined, 1);
    },
  );

  it(
    'PostgreSQL: no acknowledged batch lost, none stored or logged twice',
    { timeout: 90_000 },
    async () => {
      await crashRun(dbUrl(), 1);
    },
  );

  it('a batch stored but not logged (crash between the two steps) is logged once on the next start', async () => {
    const dir = await newDir();
    const logKey = newLogKey(ZURICH);
    const open = (): ReturnType<typeof openSite> =>
      openSite({
        siteId: ZURICH,
        dir,
        logSignerKey: logKey.signerKey,
        residency: { current: () => world.state },
        log: { sequencer: { batchDelayMs: 5 }, integrator: { intervalMs: 20 }, pollMs: 10 },
      });
    const first = await open();
    const bytes = await makeBatch(world, { customer: world.euCustomer, region: 'EU' });
    // The log is gone after step 1 (store): exactly the state a crash there leaves.
    await first.log.close();
    await expect(first.ingest.ingest(bytes, world.policy)).rejects.toMatchObject({
      code: 'INGEST_LOG_FAILED',
    });
    expect(await first.storage.unlogged(10)).toHaveLength(1);
    await first.close();

    const second = await open();
    try {
      expect(await second.storage.unlogged(10)).toEqual([]);
      const result = await second.ingest.ingest(bytes, world.policy);
      expect(result.index).toBe(0n);
      expect(await second.logStorage.sequencedSize()).toBe(1n);
    } finally {
      await second.close();
    }
  });
});
