/**
 * Failover: two real `glasshouse log serve --postgres` processes on one
 * database, both taking writes over loopback HTTP. The one that integrates is
 * killed with SIGKILL mid-run; the other must take over within seconds, and
 * in the end every acknowledged entry is in the log at its index with its
 * bytes, no index was handed out twice, and every checkpoint either server
 * ever served is consistent with the final one.
 *
 * The servers run the built CLI; the suite runs `tsc -b` first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  CompactRange,
  type Checkpoint,
  TILE_WIDTH,
  decodeBase64Strict,
  decodeBundle,
  hashLeaf,
  openCheckpoint,
  parseVerifierKey,
  tilePath,
  verifyConsistency,
} from '@glasshouse/tlog';
import {
  type ServeProcess,
  ensureBuilt,
  logOperatorFetch,
  runCli,
  startServe,
} from './log-crash-harness.js';
import {
  createTestDatabase,
  describePostgres,
  type TestDatabase,
} from '../../../packages/db/test/postgres-fixture.js';

const ORIGIN = 'example.org/failover-test';
const WRITERS_PER_SERVER = 6;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Server extends ServeProcess {
  readonly name: string;
  alive: boolean;
}

async function serve(name: string, args: string[]): Promise<Server> {
  const server: Server = { name, alive: true, ...(await startServe(args)) };
  void server.exited.then(() => {
    server.alive = false;
  });
  return server;
}

async function healthz(s: Server): Promise<{ integrating: boolean; size: number } | null> {
  try {
    const res = await fetch(new URL('healthz', s.url));
    if (!res.ok) return null;
    return (await res.json()) as { integrating: boolean; size: number };
  } catch {
    return null; // the server is down or restarting; the caller polls again
  }
}

describePostgres('failover between two log servers on one PostgreSQL database', () => {
  let db: TestDatabase | undefined;
  let dir: string | undefined;
  const servers: Server[] = [];

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase('failover');
    dir = await mkdtemp(join(tmpdir(), 'glasshouse-failover-'));
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await db?.drop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged entry and one history when the integrator is killed', async () => {
    if (db === undefined || dir === undefined) throw new Error('fixture missing');
    const url = db.url;
    const vkey = runCli(['log', 'init', '--origin', ORIGIN, '--dir', dir, '--postgres', url]);
    const verifier = parseVerifierKey(vkey.trim());

    const started = await Promise.all(
      ['a', 'b'].map((name) => serve(name, ['--dir', dir as string, '--postgres', url])),
    );
    servers.push(...started);
    const post = await logOperatorFetch(dir);

    // Everything either server acknowledged, and every checkpoint either served.
    const acked = new Map<bigint, Uint8Array>();
    const duplicates: string[] = [];
    const ackedBy = new Map<string, number>();
    const observed = new Map<string, Checkpoint>();
    let writing = true;

    const writer = async (s: Server, w: number): Promise<void> => {
      for (let n = 0; writing && s.alive; n++) {
        const data = new TextEncoder().encode(`${s.name}/${w}/${n} ${'x'.repeat(n % 50)}`);
        let body: { index?: unknown };
        try {
          const res = await post(new URL('add', s.url), { method: 'POST', body: data });
          if (res.status !== 200) {
            await sleep(20);
            continue;
          }
          body = (await res.json()) as { index?: unknown };
        } catch {
          continue; // not acknowledged (the server was killed): nothing to check
        }
        const index = BigInt(body.index as number);
        if (acked.has(index)) duplicates.push(`index ${index} acknowledged twice`);
        acked.set(index, data);
        ackedBy.set(s.name, (ackedBy.get(s.name) ?? 0) + 1);
      }
    };
    const observer = async (): Promise<void> => {
      while (writing) {
        for (const s of servers.filter((x) => x.alive)) {
          try {
            const res = await fetch(new URL('checkpoint', s.url));
            if (res.ok) {
              const note = await res.text();
              if (!observed.has(note)) {
                observed.set(note, openCheckpoint(note, [verifier], { origin: ORIGIN }).checkpoint);
              }
            }
          } catch {
            // killed mid-request; the other server is still observed
          }
        }
        await sleep(50);
      }
    };

    const load = [
      ...started.flatMap((s) => Array.from({ length: WRITERS_PER_SERVER }, (_, w) => writer(s, w))),
      observer(),
    ];

    // Exactly one of them integrates.
    let leader: Server | undefined;
    for (let i = 0; i < 100 && leader === undefined; i++) {
      const states = await Promise.all(started.map(healthz));
      const integrating = started.filter((_, j) => states[j]?.integrating === true);
      expect(integrating.length).toBeLessThanOrEqual(1);
      leader = integrating[0];
      if (leader === undefined) await sleep(100);
    }
    if (leader === undefined) throw new Error('no server became the integrator');
    const follower = started.find((s) => s !== leader) as Server;

    await sleep(2_500);
    const sizeAtKill = Math.max(0, ...[...observed.values()].map((c) => Number(c.size)));
    // Both frontends took writes before the kill.
    expect(ackedBy.get('a')).toBeGreaterThan(20);
    expect(ackedBy.get('b')).toBeGreaterThan(20);
    leader.child.kill('SIGKILL');
    const killedAt = Date.now();

    // The follower takes over within a few seconds, and the checkpoint moves on.
    let takeoverMs = -1;
    for (;;) {
      const h = await healthz(follower);
      if (h?.integrating === true && h.size > sizeAtKill) {
        takeoverMs = Date.now() - killedAt;
        break;
      }
      if (Date.now() - killedAt > 10_000) break;
      await sleep(50);
    }
    expect(takeoverMs).toBeGreaterThanOrEqual(0);
    expect(takeoverMs).toBeLessThan(5_000);

    await sleep(1_500);
    writing = false;
    await Promise.all(load);

    // Wait for a checkpoint covering everything acknowledged.
    const maxIndex = [...acked.keys()].reduce((m, i) => (i > m ? i : m), -1n);
    let finalNote = '';
    let final: Checkpoint | undefined;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      finalNote = await (await fetch(new URL('checkpoint', follower.url))).text();
      final = openCheckpoint(finalNote, [verifier], { origin: ORIGIN }).checkpoint;
      if (final.size > maxIndex) break;
      await sleep(100);
    }
    if (final === undefined || final.size <= maxIndex) {
      throw new Error(`no checkpoint covers index ${maxIndex} within 10 s`);
    }
    observed.set(finalNote, final);

    expect(duplicates).toEqual([]);

    // Read the whole log back through the tile API (entry bundles) and rebuild the tree.
    const leaves: Uint8Array[] = [];
    for (let n = 0n; n * BigInt(TILE_WIDTH) < final.size; n++) {
      const left = final.size - n * BigInt(TILE_WIDTH);
      const width = left >= BigInt(TILE_WIDTH) ? TILE_WIDTH : Number(left);
      const path = tilePath({ kind: 'entries', index: n, width });
      const res = await fetch(new URL(path, follower.url));
      expect(res.status, path).toBe(200);
      const bundle = decodeBundle(new Uint8Array(await res.arrayBuffer()));
      expect(bundle).toHaveLength(width);
      leaves.push(...bundle);
    }
    for (const [index, data] of acked) {
      expect(Buffer.from(leaves[Number(index)] ?? []).equals(data), `entry ${index}`).toBe(true);
    }

    // Every observed checkpoint is a prefix of the final tree: its root is the
    // root of the first `size` entries, and the server proves consistency.
    const bySize = [...observed.values()].sort((x, y) => Number(x.size - y.size));
    const range = new CompactRange();
    let appended = 0n;
    for (const cp of bySize) {
      while (appended < cp.size) {
        range.append(hashLeaf(leaves[Number(appended)] as Uint8Array));
        appended++;
      }
      expect(Buffer.from(range.root()).equals(cp.rootHash), `root at ${cp.size}`).toBe(true);
      if (cp.size === 0n || cp.size === final.size) continue;
      const res = await fetch(
        new URL(`proof/consistency?old=${cp.size}&new=${final.size}`, follower.url),
      );
      const body = (await res.json()) as { proof: string[] };
      const proof = body.proof.map((p) => decodeBase64Strict(p) ?? new Uint8Array());
      verifyConsistency(cp.size, final.size, proof, cp.rootHash, final.rootHash);
    }
    expect(observed.size).toBeGreaterThan(3);
  }, 60_000);
});
