import { describe, expect, it } from 'vitest';
import { CompactRange, type CompletedNode } from '../src/compact.js';
import { Frontier, hashEntries, subtreeRoot } from '../src/frontier.js';
import { hashLeaf } from '../src/hash.js';
import { TILE_WIDTH, encodeBundle } from '../src/tiles.js';

function bounds(entries: Uint8Array[]): {
  data: Uint8Array;
  starts: Uint32Array;
  ends: Uint32Array;
} {
  const data = encodeBundle(entries);
  const starts = new Uint32Array(entries.length);
  const ends = new Uint32Array(entries.length);
  let at = 0;
  entries.forEach((e, i) => {
    starts[i] = at + 2;
    ends[i] = at + 2 + e.length;
    at += 2 + e.length;
  });
  return { data, starts, ends };
}

const entry = (i: number): Uint8Array => new TextEncoder().encode(`entry ${i}`);

describe('Frontier, hashEntries, subtreeRoot', () => {
  it('hashes a bundle in place like hashLeaf, entry by entry', () => {
    const entries = Array.from({ length: 5 }, (_, i) => entry(i));
    const want = Buffer.concat(entries.map((e) => hashLeaf(e)));
    expect(Buffer.from(hashEntries(bounds(entries)))).toEqual(want);
  });

  it('leaves the bundle it hashes untouched, also when it is a Node Buffer', () => {
    // A monitor mirrors the very bytes it hashed: they must still be the log's.
    const entries = Array.from({ length: 5 }, (_, i) => entry(i));
    const b = bounds(entries);
    const asBuffer = { ...b, data: Buffer.from(b.data) };
    const before = Buffer.from(b.data);
    hashEntries(b);
    hashEntries(asBuffer);
    expect(Buffer.from(b.data)).toEqual(before);
    expect(asBuffer.data).toEqual(before);
  });

  it('recomputes the same tree as leaf-by-leaf appends, whole bundles at a time', () => {
    // Start mid-way (size 3 · 256) so the pushes merge with existing subtrees.
    const reference = new CompactRange();
    for (let i = 0; i < 3 * TILE_WIDTH; i++) reference.append(hashLeaf(entry(i)));
    const frontier = new Frontier(new CompactRange(reference.state()));
    const completed: CompletedNode[] = [];
    const wantCompleted: CompletedNode[] = [];
    for (let b = 3; b < 6; b++) {
      const entries = Array.from({ length: TILE_WIDTH }, (_, k) => entry(b * TILE_WIDTH + k));
      frontier.push(8, subtreeRoot(hashEntries(bounds(entries))), completed);
      for (const e of entries) {
        wantCompleted.push(...reference.append(hashLeaf(e)).filter((n) => n.level >= 8));
      }
    }
    expect(frontier.size).toBe(reference.size);
    expect(Buffer.from(frontier.compactRange().root())).toEqual(Buffer.from(reference.root()));
    expect(completed.map((n) => `${n.level}/${n.index}`)).toEqual(
      wantCompleted.filter((n) => n.level % 8 === 0).map((n) => `${n.level}/${n.index}`),
    );
  });

  it('refuses a subtree that does not start at a multiple of its width', () => {
    const frontier = new Frontier(new CompactRange({ size: 1n, hashes: [hashLeaf(entry(0))] }));
    expect(() => {
      frontier.push(8, new Uint8Array(32), []);
    }).toThrow();
  });
});
