/**
 * A log client written only from the specs (c2sp.org/tlog-tiles,
 * tlog-checkpoint, signed-note, RFC 6962) on top of `@glasshouse/tlog`. It
 * talks to a real server over loopback HTTP and trusts nothing but the log's
 * verifier key: every entry it is shown must be included in the latest
 * checkpoint, and every pair of checkpoints it saw must be consistent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { type Checkpoint, encodeBundle } from '@glasshouse/tlog';
import { buildServer } from '../src/server.js';
import { makeTestLog, type TestLog } from './fixtures.js';
import { SpecClient } from './tiles-client.js';

const WRITERS = 6;
const RUN_MS = 2500;

let t: TestLog;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  t = await makeTestLog({
    sequencer: { batchDelayMs: 10 },
    integrator: { intervalMs: 50, maxEntriesPerRound: 300 },
  });
  app = buildServer({ log: t.log });
  base = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
});

afterAll(async () => {
  await app.close();
  await t.close();
});

describe('a client written from the specs', () => {
  it('verifies every entry and every pair of checkpoints seen under concurrent writes', async () => {
    const client = new SpecClient(base, t.verifierKey);
    const acked = new Map<bigint, string>();
    const seen = new Map<bigint, Checkpoint>();
    const deadline = Date.now() + RUN_MS;

    const writer = async (w: number): Promise<void> => {
      for (let i = 0; Date.now() < deadline; i++) {
        if (i % 5 === 4) {
          const texts = Array.from({ length: 20 }, (_, k) => `w${w}-${i}-${k}`);
          const body = encodeBundle(texts.map((s) => new TextEncoder().encode(s)));
          const res = await fetch(new URL('add-batch', base), { method: 'POST', body });
          expect(res.status).toBe(200);
          const { indices } = (await res.json()) as { indices: number[] };
          indices.forEach((index, k) => acked.set(BigInt(index), texts[k] ?? ''));
        } else {
          const text = `w${w}-${i}`;
          const res = await fetch(new URL('add', base), { method: 'POST', body: text });
          expect(res.status).toBe(200);
          const { index } = (await res.json()) as { index: number };
          acked.set(BigInt(index), text);
        }
      }
    };
    const observer = async (): Promise<void> => {
      while (Date.now() < deadline + 200) {
        const cp = await client.checkpoint();
        const prior = seen.get(cp.size);
        // A log never signs two different roots for one size.
        if (prior !== undefined)
          expect(Buffer.from(prior.rootHash)).toEqual(Buffer.from(cp.rootHash));
        seen.set(cp.size, cp);
        await new Promise((r) => setTimeout(r, 40));
      }
    };
    await Promise.all([...Array.from({ length: WRITERS }, (_, w) => writer(w)), observer()]);

    // Wait until a checkpoint covers everything acknowledged.
    const want = BigInt(acked.size);
    let latest = await client.checkpoint();
    for (let i = 0; latest.size < want && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      latest = await client.checkpoint();
    }
    seen.set(latest.size, latest);
    expect(latest.size).toBe(want);
    expect(seen.size).toBeGreaterThan(3);

    // Every acknowledged entry is in the bundles at its index, and included in the tree.
    await client.verifyRoot(latest);
    const entries = await client.entries(latest.size);
    expect(entries.length).toBe(Number(latest.size));
    for (const [index, text] of acked) {
      expect(new TextDecoder().decode(entries[Number(index)])).toBe(text);
    }
    for (let i = 0; i < entries.length; i++) {
      await client.verifyIncluded(entries[i] as Uint8Array, BigInt(i), latest);
    }

    // Every pair of checkpoints observed is consistent, and each root matches its tiles.
    const sizes = [...seen.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const s of sizes) await client.verifyRoot(seen.get(s) as Checkpoint);
    for (let i = 0; i < sizes.length; i++) {
      for (let j = i + 1; j < sizes.length; j++) {
        await client.verifyConsistent(
          seen.get(sizes[i] as bigint) as Checkpoint,
          seen.get(sizes[j] as bigint) as Checkpoint,
        );
      }
    }
  }, 60_000);
});
