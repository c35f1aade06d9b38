import { afterEach, describe, expect, it } from 'vitest';
import {
  hashLeaf,
  openCheckpoint,
  parsePolicy,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
  verifyTlogProof,
  decodeBundle,
  generateSignerKey,
} from '@glasshouse/tlog';
import { initLog, openLog } from '../src/log.js';
import { ORIGIN, makeTestLog, utf8, type TestLog } from './fixtures.js';

let t: TestLog | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('initLog', () => {
  it('signs the empty tree once and refuses another origin or key', async () => {
    t = await makeTestLog();
    const cp = await t.log.latest();
    expect(cp.checkpoint.size).toBe(0n);
    expect(cp.checkpoint.origin).toBe(ORIGIN);
    // Same origin and key again: a no-op.
    const again = await initLog({ origin: ORIGIN, signerKey: t.signerKey, storage: t.storage });
    expect(again.created).toBe(false);
    const other = generateSignerKey(ORIGIN);
    await expect(
      initLog({ origin: ORIGIN, signerKey: other.signerKey, storage: t.storage }),
    ).rejects.toMatchObject({ code: 'ALREADY_INITIALISED' });
    const elsewhere = generateSignerKey('example.org/other');
    await expect(
      initLog({ origin: 'example.org/other', signerKey: elsewhere.signerKey, storage: t.storage }),
    ).rejects.toMatchObject({ code: 'ALREADY_INITIALISED' });
    await expect(openLog({ storage: t.storage, signerKey: other.signerKey })).rejects.toMatchObject(
      { code: 'ALREADY_INITIALISED' },
    );
  });

  it('refuses a key whose name is not the origin', async () => {
    t = await makeTestLog();
    const k = generateSignerKey('example.org/not-the-origin');
    await expect(
      initLog({ origin: 'example.org/x', signerKey: k.signerKey, storage: t.storage }),
    ).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });
});

describe('a running log', () => {
  it('integrates an add at once instead of at the end of the interval', async () => {
    // An interval far beyond the wait below: only the add's nudge can start the round.
    t = await makeTestLog({ integrator: { intervalMs: 60_000 } });
    const { log } = t;
    // Let the first (empty) round pass, so the integrator is asleep.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const i of [0, 1, 2]) {
      const { index } = await log.add(utf8(`nudged ${i}`));
      const cp = await log.waitForCheckpoint(index, 5_000);
      expect(cp.checkpoint.size).toBe(BigInt(i + 1));
    }
  });

  it('integrates entries across tile boundaries with verifiable proofs and receipts', async () => {
    // Small rounds so that partial tiles (levels 0 and 1) grow over many checkpoints.
    t = await makeTestLog({ integrator: { intervalMs: 5, maxEntriesPerRound: 97 } });
    const { log } = t;
    const verifier = parseVerifierKey(t.verifierKey);
    const data = Array.from({ length: 700 }, (_, i) => utf8(`entry ${i}`));
    const seen: { size: bigint; root: Uint8Array }[] = [];
    for (let i = 0; i < data.length; i += 100) {
      const results = await log.addBatch(data.slice(i, i + 100));
      expect(results.map((r) => r.index)).toEqual(
        Array.from({ length: results.length }, (_, k) => BigInt(i + k)),
      );
      const cp = await log.waitForCheckpoint(BigInt(i + 99), 10_000);
      const { checkpoint } = openCheckpoint(cp.note, [verifier], { origin: ORIGIN });
      seen.push({ size: checkpoint.size, root: checkpoint.rootHash });
    }
    const latest = await log.latest();
    expect(latest.checkpoint.size).toBe(700n);
    for (const index of [0n, 1n, 255n, 256n, 511n, 512n, 699n]) {
      const proof = await log.inclusionProof(index, 700n);
      verifyInclusion(
        hashLeaf(data[Number(index)] ?? new Uint8Array()),
        index,
        700n,
        proof,
        latest.checkpoint.rootHash,
      );
    }
    // Every pair of observed checkpoints is consistent, with proofs from stored tiles.
    for (const a of seen) {
      for (const b of seen) {
        if (a.size >= b.size) continue;
        verifyConsistency(
          a.size,
          b.size,
          await log.consistencyProof(a.size, b.size),
          a.root,
          b.root,
        );
      }
    }
    // Receipts verify offline against a policy with the log's key.
    const policy = parsePolicy(`log ${t.verifierKey}\nquorum none\n`);
    const receipt = await log.receipt(300n);
    expect(verifyTlogProof(receipt, data[300] ?? new Uint8Array(), policy).index).toBe(300n);
    // Bundles hold the entries.
    const bundle = decodeBundle((await log.readTile('tile/entries/001')) ?? new Uint8Array());
    expect(Buffer.from(bundle[0] ?? []).toString()).toBe('entry 256');
    expect((await log.readTile('tile/entries/002.p/188'))?.length).toBeGreaterThan(0);
    expect((await log.readTile('tile/1/000.p/2'))?.length).toBe(64);
  });

  it('builds a level-2 tile when the tree passes 65,536 entries', async () => {
    t = await makeTestLog({ integrator: { intervalMs: 5, maxEntriesPerRound: 40_000 } });
    const { log } = t;
    const n = 65_536 + 300;
    for (let i = 0; i < n; i += 4096) {
      const chunk = Array.from({ length: Math.min(4096, n - i) }, (_, k) => utf8(`e${i + k}`));
      await log.addBatch(chunk);
    }
    const cp = await log.waitForCheckpoint(BigInt(n - 1), 30_000);
    expect(cp.checkpoint.size).toBe(BigInt(n));
    expect((await log.readTile('tile/2/000.p/1'))?.length).toBe(32);
    expect((await log.readTile('tile/1/000'))?.length).toBe(8192);
    const index = 65_600n;
    verifyInclusion(
      hashLeaf(utf8(`e${index}`)),
      index,
      cp.checkpoint.size,
      await log.inclusionProof(index, cp.checkpoint.size),
      cp.checkpoint.rootHash,
    );
  }, 60_000);

  it('rejects bad sizes and indices for proofs', async () => {
    t = await makeTestLog();
    await t.log.addBatch([utf8('a'), utf8('b'), utf8('c')]);
    await t.log.waitForCheckpoint(2n, 5000);
    await expect(t.log.inclusionProof(3n, 3n)).rejects.toMatchObject({
      code: 'INDEX_OUT_OF_RANGE',
    });
    await expect(t.log.inclusionProof(0n, 4n)).rejects.toMatchObject({ code: 'SIZE_OUT_OF_RANGE' });
    await expect(t.log.consistencyProof(0n, 3n)).rejects.toMatchObject({
      code: 'SIZE_OUT_OF_RANGE',
    });
    await expect(t.log.consistencyProof(3n, 2n)).rejects.toMatchObject({
      code: 'SIZE_OUT_OF_RANGE',
    });
    await expect(t.log.receipt(3n)).rejects.toMatchObject({ code: 'INDEX_OUT_OF_RANGE' });
    await expect(t.log.waitForCheckpoint(10n, 50)).rejects.toMatchObject({ code: 'WAIT_TIMEOUT' });
  });

  it('serves reads from a frontend that does not integrate', async () => {
    t = await makeTestLog();
    const front = await openLog({ storage: t.storage, verifierKey: t.verifierKey, pollMs: 10 });
    try {
      const r = await front.add(utf8('via the frontend'));
      const cp = await front.waitForCheckpoint(r.index, 5000);
      expect(cp.checkpoint.size).toBeGreaterThan(r.index);
      expect(front.integrating).toBe(false);
    } finally {
      await front.close();
    }
  });
});
