/**
 * The contract suite of the storage port: every MUST of `storage.ts`, run by
 * each adapter's test file (`storageContract('sqlite', …)`).
 *
 * Not part of the build: it imports vitest, and only test files import it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashLeaf } from '@glasshouse/tlog';
import type { IntegratedState, LogStorage, PendingEntry } from '../src/storage.js';
import { rejectionCode } from '../../errors/test/codes.js';

export interface ContractFixture {
  /** A fresh, empty storage. */
  storage: LogStorage;
  /**
   * Opens the same data again. The suite closes `storage` (and any earlier
   * reopened handle) before calling it; cleanup must close what it returns.
   */
  reopen?: () => Promise<LogStorage>;
  /**
   * Opens a second live handle on the same data, as another process would
   * (adapters that allow one process only leave it out). Closed by the suite.
   */
  openAnother?: () => Promise<LogStorage>;
  /** Closes every handle still open and removes the data. */
  cleanup: () => Promise<void>;
}

const enc = new TextEncoder();

function entry(text: string): PendingEntry {
  const data = enc.encode(text);
  return { data, leafHash: hashLeaf(data) };
}

function entries(prefix: string, n: number): PendingEntry[] {
  return Array.from({ length: n }, (_, i) => entry(`${prefix}-${i}`));
}

function hash(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

function state(size: bigint, tag: string, hashes: number): IntegratedState {
  return {
    size,
    checkpoint: `example.org/log\n${size}\n${tag}\n\n— example.org/log AAAA\n`,
    compactHashes: Array.from({ length: hashes }, (_, i) => hash(i + 1)),
  };
}

export function storageContract(name: string, make: () => Promise<ContractFixture>): void {
  describe(`LogStorage contract: ${name}`, () => {
    let fx: ContractFixture;
    let s: LogStorage;
    const extra: LogStorage[] = [];

    beforeEach(async () => {
      fx = await make();
      s = fx.storage;
    });

    afterEach(async () => {
      for (const h of extra.splice(0)) await h.close();
      await fx.cleanup();
    });

    /** Closes the current handle and opens the data again (skips when unsupported). */
    async function reopen(): Promise<boolean> {
      if (fx.reopen === undefined) return false;
      await s.close();
      s = await fx.reopen();
      return true;
    }

    describe('sequence', () => {
      it('starts empty', async () => {
        expect(await s.sequencedSize()).toBe(0n);
        expect(await s.readEntries(0n, 10)).toEqual([]);
        expect(await s.readState()).toBeNull();
      });

      it('assigns consecutive indices from the current size, in order', async () => {
        expect(await s.sequence(entries('a', 3), { dedup: false })).toEqual([0n, 1n, 2n]);
        expect(await s.sequence(entries('b', 2), { dedup: false })).toEqual([3n, 4n]);
        expect(await s.sequence([], { dedup: false })).toEqual([]);
        expect(await s.sequencedSize()).toBe(5n);
        const got = await s.readEntries(0n, 10);
        expect(got.map((e) => e.index)).toEqual([0n, 1n, 2n, 3n, 4n]);
        const want = [...entries('a', 3), ...entries('b', 2)];
        got.forEach((e, i) => {
          expect(Buffer.from(e.data)).toEqual(Buffer.from(want[i]?.data ?? []));
          expect(Buffer.from(e.leafHash)).toEqual(Buffer.from(want[i]?.leafHash ?? []));
        });
      });

      it('never assigns an index twice or skips one under concurrent calls', async () => {
        const calls = Array.from({ length: 25 }, (_, c) =>
          s.sequence(entries(`c${c}`, 1 + (c % 7)), { dedup: c % 2 === 0 }),
        );
        const results = await Promise.all(calls);
        const all = results.flat();
        const total = results.reduce((n, r) => n + r.length, 0);
        expect(new Set(all).size).toBe(total);
        expect(all.slice().sort((x, y) => (x < y ? -1 : 1))).toEqual(
          Array.from({ length: total }, (_, i) => BigInt(i)),
        );
        for (const r of results) {
          r.forEach((index, i) => {
            expect(index).toBe((r[0] ?? 0n) + BigInt(i));
          });
        }
        expect(await s.sequencedSize()).toBe(BigInt(total));
      });

      it('keeps sequenced entries across a reopen', async () => {
        await s.sequence(entries('d', 4), { dedup: false });
        if (!(await reopen())) return;
        expect(await s.sequencedSize()).toBe(4n);
        const got = await s.readEntries(0n, 4);
        expect(got.map((e) => Buffer.from(e.data).toString())).toEqual([
          'd-0',
          'd-1',
          'd-2',
          'd-3',
        ]);
        expect(await s.sequence([entry('after')], { dedup: false })).toEqual([4n]);
      });

      it('with dedup, returns the original index and stores nothing new', async () => {
        const [a, b, c] = [entry('A'), entry('B'), entry('C')];
        // Stored without dedup; later dedup calls must still find them.
        expect(await s.sequence([a, b], { dedup: false })).toEqual([0n, 1n]);
        expect(await s.sequence([b, c, c, a, c], { dedup: true })).toEqual([1n, 2n, 2n, 0n, 2n]);
        expect(await s.sequencedSize()).toBe(3n);
        expect(await s.sequence([c], { dedup: true })).toEqual([2n]);
        expect(await s.sequencedSize()).toBe(3n);
      });

      it('without dedup, stores duplicates again', async () => {
        const a = entry('A');
        expect(await s.sequence([a, a], { dedup: false })).toEqual([0n, 1n]);
        expect(await s.sequence([a], { dedup: false })).toEqual([2n]);
        expect(await s.sequencedSize()).toBe(3n);
      });

      it('dedups within a batch on an empty log', async () => {
        const [x, y] = [entry('X'), entry('Y')];
        expect(await s.sequence([x, y, x, y, x], { dedup: true })).toEqual([0n, 1n, 0n, 1n, 0n]);
        expect(await s.sequencedSize()).toBe(2n);
      });
    });

    describe('readEntries', () => {
      it('returns only entries that exist', async () => {
        await s.sequence(entries('r', 5), { dedup: false });
        expect((await s.readEntries(3n, 10)).map((e) => e.index)).toEqual([3n, 4n]);
        expect((await s.readEntries(1n, 2)).map((e) => e.index)).toEqual([1n, 2n]);
        expect(await s.readEntries(5n, 3)).toEqual([]);
        expect(await s.readEntries(100n, 3)).toEqual([]);
        expect(await s.readEntries(0n, 0)).toEqual([]);
      });

      it('keeps binary bytes exactly, up to 65,535 bytes', async () => {
        const big = new Uint8Array(65535).map((_, i) => (i * 7) & 0xff);
        const zeros = new Uint8Array(3);
        await s.sequence(
          [
            { data: big, leafHash: hashLeaf(big) },
            { data: zeros, leafHash: hashLeaf(zeros) },
          ],
          { dedup: false },
        );
        const [e0, e1] = await s.readEntries(0n, 2);
        expect(Buffer.from(e0?.data ?? []).equals(Buffer.from(big))).toBe(true);
        expect(Buffer.from(e1?.data ?? []).equals(Buffer.from(zeros))).toBe(true);
      });
    });

    describe('casState', () => {
      it('only moves from the expected size', async () => {
        const s0 = state(0n, 'zero', 0);
        const s3 = state(3n, 'three', 2);
        const s4 = state(4n, 'four', 1);
        expect(await s.casState(0n, s3)).toBe(false);
        expect(await s.readState()).toBeNull();
        expect(await s.casState(null, s0)).toBe(true);
        expect(await s.casState(null, s3)).toBe(false);
        expect(await s.casState(7n, s3)).toBe(false);
        expect(await s.readState()).toEqual(s0);
        expect(await s.casState(0n, s3)).toBe(true);
        expect(await s.readState()).toEqual(s3);
        expect(await s.casState(0n, s4)).toBe(false);
        expect(await s.casState(3n, s4)).toBe(true);
        const got = await s.readState();
        expect(got?.size).toBe(4n);
        expect(got?.checkpoint).toBe(s4.checkpoint);
        expect(got?.compactHashes.map((h) => Buffer.from(h))).toEqual(
          s4.compactHashes.map((h) => Buffer.from(h)),
        );
      });

      it('lets exactly one of racing writers win', async () => {
        expect(await s.casState(null, state(0n, 'zero', 0))).toBe(true);
        const racers = Array.from({ length: 8 }, (_, i) => s.casState(0n, state(5n, `r${i}`, 2)));
        const wins = (await Promise.all(racers)).filter(Boolean);
        expect(wins).toHaveLength(1);
      });

      it('is durable across a reopen', async () => {
        const s2 = state(2n, 'two', 1);
        expect(await s.casState(null, s2)).toBe(true);
        if (!(await reopen())) return;
        expect(await s.readState()).toEqual(s2);
      });
    });

    describe('casPublished', () => {
      const pub = (size: bigint, tag: string): { size: bigint; checkpoint: string } => ({
        size,
        checkpoint: `example.org/log\n${size}\n${tag}\n\n— example.org/log AAAA\n— w BBBB\n`,
      });

      it('starts with the first stored state as the published checkpoint', async () => {
        expect(await s.readPublished()).toBeNull();
        const s0 = state(0n, 'zero', 0);
        expect(await s.casState(null, s0)).toBe(true);
        expect(await s.readPublished()).toEqual({ size: 0n, checkpoint: s0.checkpoint });
      });

      it('only moves from the expected size, forwards, up to the integrated size', async () => {
        expect(await s.casPublished(0n, pub(0n, 'nothing'))).toBe(false);
        expect(await s.casState(null, state(0n, 'zero', 0))).toBe(true);
        expect(await s.casState(0n, state(5n, 'five', 2))).toBe(true);
        // Beyond what is signed and stored: refused.
        expect(await s.casPublished(0n, pub(6n, 'six'))).toBe(false);
        // From a size that is not the published one: refused.
        expect(await s.casPublished(3n, pub(5n, 'five'))).toBe(false);
        expect(await s.casPublished(0n, pub(3n, 'three'))).toBe(true);
        expect(await s.readPublished()).toEqual(pub(3n, 'three'));
        // Never backwards.
        expect(await s.casPublished(3n, pub(2n, 'two'))).toBe(false);
        // The same size again (e.g. with more cosignatures) is a move.
        expect(await s.casPublished(3n, pub(3n, 'three+'))).toBe(true);
        expect(await s.casPublished(3n, pub(5n, 'five'))).toBe(true);
        expect(await s.readPublished()).toEqual(pub(5n, 'five'));
      });

      it('moves independently of the integrated state', async () => {
        const s0 = state(0n, 'zero', 0);
        const s4 = state(4n, 'four', 1);
        const s9 = state(9n, 'nine', 2);
        expect(await s.casState(null, s0)).toBe(true);
        expect(await s.casState(0n, s4)).toBe(true);
        // casState leaves the published checkpoint alone…
        expect(await s.readPublished()).toEqual({ size: 0n, checkpoint: s0.checkpoint });
        expect(await s.casPublished(0n, pub(4n, 'four'))).toBe(true);
        // …and casPublished leaves the integrated state alone.
        expect(await s.readState()).toEqual(s4);
        expect(await s.casState(4n, s9)).toBe(true);
        expect(await s.readPublished()).toEqual(pub(4n, 'four'));
      });

      it('lets exactly one of racing publishers win', async () => {
        expect(await s.casState(null, state(0n, 'zero', 0))).toBe(true);
        expect(await s.casState(0n, state(5n, 'five', 2))).toBe(true);
        const racers = Array.from({ length: 8 }, (_, i) => s.casPublished(0n, pub(5n, `r${i}`)));
        expect((await Promise.all(racers)).filter(Boolean)).toHaveLength(1);
      });

      it('is durable across a reopen', async () => {
        expect(await s.casState(null, state(0n, 'zero', 0))).toBe(true);
        expect(await s.casState(0n, state(2n, 'two', 1))).toBe(true);
        expect(await s.casPublished(0n, pub(2n, 'two'))).toBe(true);
        if (!(await reopen())) return;
        expect(await s.readPublished()).toEqual(pub(2n, 'two'));
      });
    });

    describe('tiles', () => {
      const paths = ['tile/0/000', 'tile/0/x001/234.p/7', 'tile/2/000.p/1', 'tile/entries/005'];

      it('stores and reads back tiles and bundles by path', async () => {
        const tiles = paths.map((path, i) => ({
          path,
          data: new Uint8Array(32 * (i + 1)).fill(i),
        }));
        await s.writeTiles(tiles);
        for (const t of tiles) {
          expect(Buffer.from((await s.readTile(t.path)) ?? [])).toEqual(Buffer.from(t.data));
        }
        expect(await s.readTile('tile/0/001')).toBeNull();
        expect(await s.readTile('tile/0/x001/234.p/8')).toBeNull();
      });

      it('accepts an identical rewrite and rejects different content', async () => {
        const path = 'tile/0/000.p/2';
        const data = new Uint8Array(64).fill(9);
        await s.writeTiles([{ path, data }]);
        await s.writeTiles([{ path, data: new Uint8Array(64).fill(9) }]);
        expect(
          await rejectionCode(s.writeTiles([{ path, data: new Uint8Array(64).fill(8) }])),
        ).toBe('TILE_CONFLICT');
        expect(
          await rejectionCode(s.writeTiles([{ path, data: new Uint8Array(32).fill(9) }])),
        ).toBe('TILE_CONFLICT');
        expect(Buffer.from((await s.readTile(path)) ?? [])).toEqual(Buffer.from(data));
      });

      it('accepts the same tile written twice at once', async () => {
        const path = 'tile/entries/000.p/3';
        const data = new Uint8Array([0, 1, 65, 0, 1, 66, 0, 1, 67]);
        await Promise.all([s.writeTiles([{ path, data }]), s.writeTiles([{ path, data }])]);
        expect(Buffer.from((await s.readTile(path)) ?? [])).toEqual(Buffer.from(data));
      });

      it('keeps tiles across a reopen', async () => {
        const data = new Uint8Array(8192).fill(3);
        await s.writeTiles([{ path: 'tile/1/000', data }]);
        if (!(await reopen())) return;
        expect(Buffer.from((await s.readTile('tile/1/000')) ?? [])).toEqual(Buffer.from(data));
      });
    });

    describe('integrator lease', () => {
      it('is held by one holder at a time', async () => {
        const lease = await s.tryAcquireIntegratorLease();
        expect(lease).not.toBeNull();
        expect(lease?.isHeld()).toBe(true);
        expect(await s.tryAcquireIntegratorLease()).toBeNull();
        await lease?.release();
        expect(lease?.isHeld()).toBe(false);
        const again = await s.tryAcquireIntegratorLease();
        expect(again?.isHeld()).toBe(true);
        await again?.release();
      });

      it('is exclusive across handles and is freed when its holder closes', async () => {
        if (fx.openAnother === undefined) return;
        const other = await fx.openAnother();
        extra.push(other);
        const lease = await s.tryAcquireIntegratorLease();
        expect(lease).not.toBeNull();
        expect(await other.tryAcquireIntegratorLease()).toBeNull();
        await s.close();
        // "within a few seconds" of its holder going away
        let taken = await other.tryAcquireIntegratorLease();
        for (let i = 0; taken === null && i < 50; i++) {
          await new Promise((r) => setTimeout(r, 200));
          taken = await other.tryAcquireIntegratorLease();
        }
        expect(taken?.isHeld()).toBe(true);
        await taken?.release();
      });

      it('never assigns an index twice across handles', async () => {
        if (fx.openAnother === undefined) return;
        const other = await fx.openAnother();
        extra.push(other);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? s : other).sequence(entries(`h${i}`, 3), { dedup: false }),
          ),
        );
        const all = results.flat();
        expect(new Set(all).size).toBe(60);
        expect(await other.sequencedSize()).toBe(60n);
      });
    });
  });
}
