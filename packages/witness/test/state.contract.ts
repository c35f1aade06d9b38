/**
 * The contract suite of the witness state port: every MUST of `state.ts`,
 * run by each adapter's test file (`stateContract('sqlite', …)`), plus the
 * witness core on top of the adapter racing itself.
 *
 * Not part of the build: it imports vitest, and only test files import it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateCosignerKey } from '@glasshouse/tlog';
import { TestLog } from './witness-fixture.js';
import type { WitnessStateStore, WitnessedCheckpoint } from '../src/state.js';
import { createWitness } from '../src/witness.js';
import { rejectionCode } from '../../errors/test/codes.js';

export interface StateFixture {
  /** A fresh, empty state. */
  state: WitnessStateStore;
  /** Opens the same data again; the suite closes `state` first. */
  reopen: () => Promise<WitnessStateStore>;
  /** Closes every handle still open and removes the data. */
  cleanup: () => Promise<void>;
}

const ORIGIN = 'example.com/contract-log';

function checkpoint(size: bigint, byte: number): WitnessedCheckpoint {
  return {
    size,
    rootHash: new Uint8Array(32).fill(byte),
    note: `${ORIGIN}\n${size}\nroot-${byte}\n\n— witness AAAA\n`,
  };
}

export function stateContract(name: string, make: () => Promise<StateFixture>): void {
  describe(`witness state contract: ${name}`, () => {
    let f: StateFixture;
    let s: WitnessStateStore;

    beforeEach(async () => {
      f = await make();
      s = f.state;
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('registers logs and keys idempotently, in order', async () => {
      expect(await s.getLog(ORIGIN)).toBeNull();
      expect(await s.listLogs()).toEqual([]);
      await s.addLogKey(ORIGIN, 'key-a');
      await s.addLogKey(ORIGIN, 'key-b');
      await s.addLogKey(ORIGIN, 'key-a');
      await s.addLogKey('example.com/another', 'key-c');
      expect(await s.getLog(ORIGIN)).toEqual({ origin: ORIGIN, verifierKeys: ['key-a', 'key-b'] });
      expect(await s.listLogs()).toEqual([
        { origin: 'example.com/another', verifierKeys: ['key-c'] },
        { origin: ORIGIN, verifierKeys: ['key-a', 'key-b'] },
      ]);
      // Registering never touches the latest checkpoint.
      expect(await s.getLatest(ORIGIN)).toBeNull();
    });

    it('moves the latest checkpoint by compare-and-swap, absent counting as size 0', async () => {
      await s.addLogKey(ORIGIN, 'key-a');
      expect(await s.casLatest(ORIGIN, 3n, checkpoint(5n, 1))).toBe(false);
      expect(await s.getLatest(ORIGIN)).toBeNull();
      expect(await s.casLatest(ORIGIN, 0n, checkpoint(5n, 1))).toBe(true);
      expect(await s.getLatest(ORIGIN)).toEqual(checkpoint(5n, 1));
      expect(await s.casLatest(ORIGIN, 0n, checkpoint(7n, 2))).toBe(false);
      expect(await s.casLatest(ORIGIN, 4n, checkpoint(7n, 2))).toBe(false);
      expect(await s.getLatest(ORIGIN)).toEqual(checkpoint(5n, 1));
      // Same size again (a fresh cosignature on the same tree).
      expect(await s.casLatest(ORIGIN, 5n, checkpoint(5n, 1))).toBe(true);
      const big = (1n << 64n) - 1n;
      expect(await s.casLatest(ORIGIN, 5n, checkpoint(big, 3))).toBe(true);
      expect((await s.getLatest(ORIGIN))?.size).toBe(big);
    });

    it('a log at size 0 can move forward from 0', async () => {
      await s.addLogKey(ORIGIN, 'key-a');
      expect(await s.casLatest(ORIGIN, 0n, checkpoint(0n, 9))).toBe(true);
      expect(await s.casLatest(ORIGIN, 0n, checkpoint(4n, 1))).toBe(true);
      expect((await s.getLatest(ORIGIN))?.size).toBe(4n);
    });

    it('refuses a compare-and-swap for an unregistered log', async () => {
      expect(await rejectionCode(s.casLatest('nobody', 0n, checkpoint(1n, 1)))).toBe('LOG_UNKNOWN');
      expect(await rejectionCode(s.casLatest('nobody', 5n, checkpoint(6n, 1)))).toBe('LOG_UNKNOWN');
    });

    it('lets exactly one of many concurrent swaps from the same size win', async () => {
      await s.addLogKey(ORIGIN, 'key-a');
      await s.casLatest(ORIGIN, 0n, checkpoint(1n, 1));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => s.casLatest(ORIGIN, 1n, checkpoint(BigInt(i + 2), i))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await s.getLatest(ORIGIN)).toEqual(checkpoint(BigInt(winner + 2), winner));
    });

    it('keeps logs and the latest checkpoint across a reopen', async () => {
      await s.addLogKey(ORIGIN, 'key-a');
      await s.casLatest(ORIGIN, 0n, checkpoint(12n, 4));
      await s.close();
      s = await f.reopen();
      expect(await s.getLog(ORIGIN)).toEqual({ origin: ORIGIN, verifierKeys: ['key-a'] });
      expect(await s.getLatest(ORIGIN)).toEqual(checkpoint(12n, 4));
    });

    it('under the witness: of concurrent requests from one old size, one is cosigned', async () => {
      const log = new TestLog(ORIGIN);
      const witness = createWitness({
        cosigner: generateCosignerKey('witness.example/w1').signerKey,
        state: s,
        now: () => 1_700_000_000n,
      });
      await witness.addLog(log.verifierKey);
      log.append(3);
      expect((await witness.addCheckpoint(await log.request(0n))).status).toBe(200);
      const bodies = [];
      for (let i = 0; i < 4; i++) bodies.push(await log.append(2).request(3n));
      const results = await Promise.all(bodies.map((b) => witness.addCheckpoint(b)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(3);
      const winner = results.findIndex((r) => r.status === 200);
      expect((await s.getLatest(ORIGIN))?.size).toBe(BigInt(5 + 2 * winner));
    });
  });
}
