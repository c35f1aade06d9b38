/**
 * TileClient: proofs and entries of a tree of a known size read through a
 * tlog-tiles getter. Every proof it builds verifies against the root of
 * that size (RFC 9162 §2.1.3.2, §2.1.4.2), across tile and bundle
 * boundaries and when a log has pruned its partial tiles; a short bundle or
 * a tile of the wrong size is refused, and a failing getter's error is the
 * caller's to map.
 */
import { describe, expect, it } from 'vitest';
import { hashLeaf } from '../src/hash.js';
import { verifyConsistency, verifyInclusion } from '../src/proof.js';
import { TileClient } from '../src/tile-client.js';
import { encodeBundle } from '../src/tiles.js';
import { MemoryLog } from './memory-log.js';

function grow(log: MemoryLog, to: number): void {
  while (log.entries.length < to) {
    log.entries.push(new TextEncoder().encode(`entry ${log.entries.length}`));
  }
  log.publish();
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
  return 'accepted';
}

describe('TileClient', () => {
  it('reads entries and proves inclusion and consistency at every size it is given', async () => {
    const log = new MemoryLog('example.com/tiles');
    const roots = new Map<bigint, Uint8Array>();
    for (const size of [1, 2, 255, 256, 257, 300, 513, 70_000]) {
      grow(log, size);
      roots.set(log.size, log.root());
    }
    for (const [size, root] of roots) {
      const tiles = new TileClient(log.get, size);
      for (const index of new Set([0n, size / 2n, size - 1n])) {
        const entry = await tiles.entry(index);
        expect(entry).toEqual(log.entries[Number(index)]);
        verifyInclusion(hashLeaf(entry), index, size, await tiles.inclusion(index), root);
      }
      for (const [older, olderRoot] of roots) {
        if (older >= size) continue;
        verifyConsistency(older, size, await tiles.consistency(older), olderRoot, root);
      }
    }
    const tiles = new TileClient(log.get, 300n);
    expect(await tiles.entries(250n, 260n)).toEqual(log.entries.slice(250, 260));
  }, 60_000);

  it('falls back to the full tile and bundle once the partial ones are gone', async () => {
    const log = new MemoryLog('example.com/pruned');
    grow(log, 300);
    const root300 = log.root();
    grow(log, 600);
    // c2sp.org/tlog-tiles: a log may delete partial tiles once the full tile exists.
    const pruned = [...log.files.keys()].filter(
      (path) => path.includes('.p/') && log.files.has(path.replace(/\.p\/\d+$/, '')),
    );
    expect(pruned).toContain('tile/entries/001.p/44');
    expect(pruned).toContain('tile/0/001.p/44');
    for (const path of pruned) log.files.delete(path);
    const tiles = new TileClient(log.get, 300n);
    expect(await tiles.entry(299n)).toEqual(log.entries[299]);
    verifyInclusion(hashLeaf(log.entries[299]!), 299n, 300n, await tiles.inclusion(299n), root300);
  });

  it('refuses a short bundle and a tile of the wrong size; a getter failure is passed on', async () => {
    const log = new MemoryLog('example.com/short');
    grow(log, 10);
    log.files.set('tile/entries/000.p/10', encodeBundle(log.entries.slice(0, 9)));
    expect(await codeOf(new TileClient(log.get, 10n).entry(9n))).toBe('BUNDLE_TRUNCATED');
    log.files.set('tile/0/000.p/10', new Uint8Array(31));
    expect(await codeOf(new TileClient(log.get, 10n).inclusion(3n))).toBe('TILE_WRONG_SIZE');
    expect(await codeOf(new TileClient(log.get, 10n).entry(10n))).toBe('INDEX_OUT_OF_RANGE');
    expect(await codeOf(new TileClient(log.get, 11n).entry(10n))).toBe('404 tile/entries/000');
  });
});
