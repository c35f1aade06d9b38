import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashLeaf } from '@glasshouse/tlog';
import {
  createTestDatabase,
  describePostgres,
  queryDb,
  type TestDatabase,
} from '../../db/test/postgres-fixture.js';
import { openPostgresStorage } from '../src/postgres.js';
import { storageContract } from './storage.contract.js';
import type { LogStorage, PendingEntry } from '../src/storage.js';

const enc = new TextEncoder();

function entry(text: string): PendingEntry {
  const data = enc.encode(text);
  return { data, leafHash: hashLeaf(data) };
}

function entries(prefix: string, n: number): PendingEntry[] {
  return Array.from({ length: n }, (_, i) => entry(`${prefix}-${i}`));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `attempt` every 100 ms until it yields a value; returns it with the time taken. */
async function pollFor<T>(
  attempt: () => Promise<T | null>,
  timeoutMs: number,
): Promise<{ value: T | null; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = await attempt();
    if (value !== null || Date.now() - start > timeoutMs) return { value, ms: Date.now() - start };
    await sleep(100);
  }
}

describePostgres('PostgreSQL storage', () => {
  // One database for the file; each contract test gets its own schema in it.
  let db: TestDatabase | undefined;
  let schemas = 0;

  beforeAll(async () => {
    db = await createTestDatabase('storage');
  });
  afterAll(async () => {
    await db?.drop();
  });

  function url(): string {
    if (db === undefined) throw new Error('test database not created');
    return db.url;
  }

  storageContract('postgres', async () => {
    const schema = `contract_${++schemas}`;
    const open = (): Promise<LogStorage> => openPostgresStorage(url(), { schema, poolSize: 4 });
    const handles: LogStorage[] = [await open()];
    const track = async (): Promise<LogStorage> => {
      const h = await open();
      handles.push(h);
      return h;
    };
    return {
      storage: handles[0] as LogStorage,
      reopen: track,
      openAnother: track,
      cleanup: async () => {
        for (const h of handles) await h.close();
        await queryDb(url(), `DROP SCHEMA ${schema} CASCADE`);
      },
    };
  });

  it('keeps indices consecutive and unique across two pools writing at once', async () => {
    const a = await openPostgresStorage(url(), { schema: 'concurrent', poolSize: 4 });
    const b = await openPostgresStorage(url(), { schema: 'concurrent', poolSize: 4 });
    try {
      // 2 storages x 4 writers x 15 batches of 1..7 entries, half of them with dedup.
      const writer = async (s: LogStorage, w: string): Promise<[bigint, PendingEntry][]> => {
        const got: [bigint, PendingEntry][] = [];
        for (let i = 0; i < 15; i++) {
          const batch = entries(`${w}-${i}`, 1 + (i % 7));
          const indices = await s.sequence(batch, { dedup: i % 2 === 0 });
          expect(indices).toHaveLength(batch.length);
          indices.forEach((index, j) => {
            // Within one call, indices are consecutive.
            expect(index).toBe((indices[0] ?? -1n) + BigInt(j));
            got.push([index, batch[j] as PendingEntry]);
          });
        }
        return got;
      };
      const results = (
        await Promise.all(
          ['a', 'b'].flatMap((side) =>
            [0, 1, 2, 3].map((w) => writer(side === 'a' ? a : b, `${side}${w}`)),
          ),
        )
      ).flat();
      const total = results.length;
      const indices = results.map(([i]) => i).sort((x, y) => (x < y ? -1 : 1));
      expect(indices).toEqual(Array.from({ length: total }, (_, i) => BigInt(i)));
      expect(await a.sequencedSize()).toBe(BigInt(total));
      const stored = await b.readEntries(0n, total + 5);
      expect(stored).toHaveLength(total);
      for (const [index, e] of results) {
        expect(Buffer.from(stored[Number(index)]?.data ?? []).equals(e.data)).toBe(true);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('dedups across processes racing to store the same entry', async () => {
    const a = await openPostgresStorage(url(), { schema: 'dedup_race', poolSize: 4 });
    const b = await openPostgresStorage(url(), { schema: 'dedup_race', poolSize: 4 });
    try {
      const same = entry('the same entry');
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? a : b).sequence([entry(`other-${i}`), same], { dedup: true }),
        ),
      );
      const sameIndices = new Set(results.map((r) => r[1]));
      expect(sameIndices.size).toBe(1);
      expect(await a.sequencedSize()).toBe(13n);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('round-trips 64-bit indices and sizes above 2^53', async () => {
    const s = await openPostgresStorage(url(), { schema: 'big', poolSize: 2 });
    try {
      const start = (1n << 53n) + 7n;
      await queryDb(url(), 'UPDATE big.log_meta SET next_index = $1', [start.toString()]);
      expect(await s.sequencedSize()).toBe(start);
      expect(await s.sequence(entries('big', 3), { dedup: false })).toEqual([
        start,
        start + 1n,
        start + 2n,
      ]);
      expect(await s.sequence([entry('big-1')], { dedup: true })).toEqual([start + 1n]);
      const got = await s.readEntries(start + 1n, 5);
      expect(got.map((e) => e.index)).toEqual([start + 1n, start + 2n]);
      const size = (1n << 63n) - 1n;
      const st = { size, checkpoint: `o\n${size}\nx\n`, compactHashes: [new Uint8Array(32)] };
      expect(await s.casState(null, st)).toBe(true);
      expect((await s.readState())?.size).toBe(size);
      expect(await s.casState(size - 1n, st)).toBe(false);
      expect(await s.casState(size, st)).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('creates its schema once when several frontends start at once', async () => {
    const opened = await Promise.all(
      Array.from({ length: 4 }, () => openPostgresStorage(url(), { schema: 'race', poolSize: 1 })),
    );
    try {
      expect(await Promise.all(opened.map((s) => s.sequencedSize()))).toEqual([0n, 0n, 0n, 0n]);
    } finally {
      await Promise.all(opened.map((s) => s.close()));
    }
  });

  it('keeps logs in different schemas apart, leases included', async () => {
    const a = await openPostgresStorage(url(), { schema: 'log_a', poolSize: 2 });
    const b = await openPostgresStorage(url(), { schema: 'log_b', poolSize: 2 });
    try {
      await a.sequence(entries('a', 2), { dedup: false });
      expect(await b.sequencedSize()).toBe(0n);
      const la = await a.tryAcquireIntegratorLease();
      const lb = await b.tryAcquireIntegratorLease();
      expect(la?.isHeld()).toBe(true);
      expect(lb?.isHeld()).toBe(true);
      await la?.release();
      await lb?.release();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('loses the lease when its connection is cut, and another frontend takes over', async () => {
    const a = await openPostgresStorage(url(), { schema: 'cut', poolSize: 2 });
    const b = await openPostgresStorage(url(), { schema: 'cut', poolSize: 2 });
    try {
      const lease = await a.tryAcquireIntegratorLease();
      expect(lease?.isHeld()).toBe(true);
      expect(await b.tryAcquireIntegratorLease()).toBeNull();
      // The server ends the holder's session, as on a network cut or an admin kill.
      const killed = await queryDb(
        url(),
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'glasshouse-log-lease'`,
      );
      expect(killed.rows).toHaveLength(1);
      const lost = await pollFor(
        () => Promise.resolve(lease?.isHeld() === false ? true : null),
        5_000,
      );
      expect(lost.value).toBe(true);
      const taken = await pollFor(() => b.tryAcquireIntegratorLease(), 5_000);
      expect(taken.value?.isHeld()).toBe(true);
      // Only the new holder has it.
      expect(await a.tryAcquireIntegratorLease()).toBeNull();
      await lease?.release();
      await taken.value?.release();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('frees the lease within a few seconds when its holder process is killed', async () => {
    const holderScript = fileURLToPath(new URL('./lease-holder.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', holderScript, url(), 'killed'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const b = await openPostgresStorage(url(), { schema: 'killed', poolSize: 2 });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        child.on('exit', (code) => {
          reject(new Error(`lease holder exited early with ${code}`));
        });
      });
      expect(line).toBe('held');
      expect(await b.tryAcquireIntegratorLease()).toBeNull();
      child.kill('SIGKILL');
      const taken = await pollFor(() => b.tryAcquireIntegratorLease(), 5_000);
      expect(taken.value?.isHeld()).toBe(true);
      expect(taken.ms).toBeLessThan(5_000);
      await taken.value?.release();
    } finally {
      child.kill('SIGKILL');
      await b.close();
    }
  });

  it('refuses sessions whose commits are not durable', async () => {
    const noSync = new URL(url());
    noSync.searchParams.set('options', '-c synchronous_commit=off');
    await expect(
      openPostgresStorage(noSync.toString(), { schema: 'nosync' }),
    ).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
  });

  it('fails with a coded error when the server is unreachable', async () => {
    await expect(openPostgresStorage('postgres://postgres@127.0.0.1:1/none')).rejects.toMatchObject(
      { code: 'STORAGE_FAILED' },
    );
  });

  it('rejects every call once closed', async () => {
    const s = await openPostgresStorage(url(), { schema: 'closed', poolSize: 1 });
    await s.close();
    await expect(s.sequencedSize()).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(s.readTile('tile/0/000')).rejects.toMatchObject({ code: 'CLOSED' });
    await s.close();
  });
});
