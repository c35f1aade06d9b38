import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactRange } from '../src/compact.js';
import { hashLeaf } from '../src/hash.js';
import {
  type HashReader,
  consistencyProof,
  inclusionProof,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from '../src/proof.js';
import {
  MAX_ENTRY_SIZE,
  type TileRef,
  decodeBundle,
  encodeBundle,
  formatTileIndex,
  parseTilePath,
  tileHashReader,
  tileNodeIds,
  tilePath,
  tileWidthAt,
  tilesForConsistency,
  tilesForInclusion,
  tilesForTreeRoot,
  tilesToWrite,
} from '../src/tiles.js';
import { codeOf } from './codes.js';

describe('tile paths', () => {
  it.each([
    [0n, '000'],
    [5n, '005'],
    [999n, '999'],
    [1000n, 'x001/000'],
    [1234067n, 'x001/x234/067'], // c2sp.org/tlog-tiles example
    [1_000_000n, 'x001/x000/000'],
    [(1n << 56n) - 1n, 'x072/x057/x594/x037/x927/935'],
  ])('formats index %s as %s', (n, want) => {
    expect(formatTileIndex(n)).toBe(want);
  });

  it.each<[TileRef, string]>([
    [{ kind: 'hash', level: 0, index: 1234067n, width: 256 }, 'tile/0/x001/x234/067'],
    [{ kind: 'hash', level: 1, index: 1n, width: 17 }, 'tile/1/001.p/17'],
    [{ kind: 'hash', level: 63, index: 0n, width: 1 }, 'tile/63/000.p/1'],
    [{ kind: 'hash', level: 2, index: 0n, width: 255 }, 'tile/2/000.p/255'],
    [{ kind: 'entries', index: 273n, width: 112 }, 'tile/entries/273.p/112'],
    [{ kind: 'entries', index: 1234067n, width: 256 }, 'tile/entries/x001/x234/067'],
  ])('formats and parses %o as %s', (ref, path) => {
    expect(tilePath(ref)).toBe(path);
    expect(parseTilePath(path)).toEqual(ref);
  });

  it('round-trips every valid reference', () => {
    const ref: fc.Arbitrary<TileRef> = fc.oneof(
      fc.record({
        kind: fc.constant('hash' as const),
        level: fc.integer({ min: 0, max: 63 }),
        index: fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }),
        width: fc.integer({ min: 1, max: 256 }),
      }),
      fc.record({
        kind: fc.constant('entries' as const),
        index: fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }),
        width: fc.integer({ min: 1, max: 256 }),
      }),
    );
    fc.assert(
      fc.property(ref, (r) => {
        expect(parseTilePath(tilePath(r))).toEqual(r);
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    'tile/0/x001/x234/67', // short group
    'tile/0/001/234/067', // missing x
    'tile/0/x001/x234/x067', // x on the last group
    'tile/0/x000/067', // leading zero group: 67 is `067`
    'tile/0/x000/000',
    'tile/0/0067',
    'tile/0/067.p/0', // W = 0
    'tile/0/067.p/256', // a full tile has no suffix
    'tile/0/067.p/300',
    'tile/0/067.p/017', // leading zero in W
    'tile/0/067.p/',
    'tile/0/067.p/5x',
    'tile/0/067.p',
    'tile/64/000', // level above 63
    'tile/01/000', // leading zero in L
    'tile/-1/000',
    'tile/1e1/000',
    'tile/0/0a0', // non-digits
    'tile/0/٠٠٠',
    'tile/0/X001/000',
    'tile/0/000/', // trailing junk
    'tile/0/000 ',
    'tile/0/000\n',
    'tile/0/000.p/5/6',
    '/tile/0/000',
    'tile/0/',
    'tile/entry/000',
    'tile/entries/',
    'tile/entries/000.p/256',
    'tiles/0/000',
    'x001/000',
    '',
    `tile/0/${'x001/'.repeat(100)}000`, // absurd length
    'tile/0/x072/x057/x594/x037/x927/936', // 2^56: beyond any uint64 tree
    'tile/0/x001/x000/x000/x000/x000/x000/000',
  ])('rejects %j', (path) => {
    expect(codeOf(() => parseTilePath(path))).toBe('TILE_PATH_INVALID');
  });

  it.each<[string, TileRef]>([
    ['width 0', { kind: 'hash', level: 0, index: 0n, width: 0 }],
    ['width 257', { kind: 'hash', level: 0, index: 0n, width: 257 }],
    ['fractional width', { kind: 'entries', index: 0n, width: 1.5 }],
    ['level 64', { kind: 'hash', level: 64, index: 0n, width: 1 }],
    ['level -1', { kind: 'hash', level: -1, index: 0n, width: 1 }],
    ['negative index', { kind: 'entries', index: -1n, width: 1 }],
    ['index 2^56', { kind: 'hash', level: 0, index: 1n << 56n, width: 1 }],
  ])('refuses to format a tile with %s', (_why, ref) => {
    expect(codeOf(() => tilePath(ref))).toBe('TILE_REF_INVALID');
  });
});

describe('tile geometry', () => {
  it('matches the c2sp.org/tlog-tiles example of a 70,000-leaf tree', () => {
    const s = 70_000n;
    expect(tileWidthAt(0, 272n, s)).toBe(256);
    expect(tileWidthAt(0, 273n, s)).toBe(112);
    expect(tileWidthAt(0, 274n, s)).toBe(0);
    expect(tileWidthAt(1, 0n, s)).toBe(256);
    expect(tileWidthAt(1, 1n, s)).toBe(17);
    expect(tileWidthAt(2, 0n, s)).toBe(1);
    expect(tileWidthAt(3, 0n, s)).toBe(0);
    const written = tilesToWrite(0n, s);
    const hashTiles = written.filter((t) => t.kind === 'hash');
    // 273 full + 1 partial level-0 tiles, 1 full + 1 partial level-1, 1 partial level-2.
    expect(hashTiles).toHaveLength(277);
    expect(hashTiles.filter((t) => t.width < 256).map(tilePath)).toEqual([
      'tile/0/273.p/112',
      'tile/1/001.p/17',
      'tile/2/000.p/1',
    ]);
    expect(written.filter((t) => t.kind === 'entries')).toHaveLength(274);
  });

  it('represents a 256-leaf tree as a full level-0 tile and a level-1 tile of width 1', () => {
    expect(tilesToWrite(0n, 256n).map(tilePath)).toEqual([
      'tile/0/000',
      'tile/entries/000',
      'tile/1/000.p/1',
    ]);
  });

  it('names exactly the tiles that grow between two sizes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 20n }),
        fc.bigInt({ min: 1n, max: 1n << 12n }),
        (a, d) => {
          const b = a + d;
          const want: string[] = [];
          for (let level = 0; level < 4; level++) {
            for (let n = 0n; tileWidthAt(level, n, b) > 0; n++) {
              const w = tileWidthAt(level, n, b);
              if (w > tileWidthAt(level, n, a)) {
                want.push(tilePath({ kind: 'hash', level, index: n, width: w }));
                if (level === 0) want.push(tilePath({ kind: 'entries', index: n, width: w }));
              }
            }
          }
          expect(tilesToWrite(a, b).map(tilePath).sort()).toEqual(want.sort());
        },
      ),
      { numRuns: 50 },
    );
  });

  it('lists the nodes whose hashes make up a tile', () => {
    const ids = tileNodeIds({ kind: 'hash', level: 2, index: 3n, width: 5 });
    expect(ids).toEqual([0, 1, 2, 3, 4].map((i) => ({ level: 16, index: 768n + BigInt(i) })));
    expect(tileNodeIds({ kind: 'entries', index: 1n, width: 2 })).toEqual([
      { level: 0, index: 256n },
      { level: 0, index: 257n },
    ]);
  });
});

// ---------------------------------------------------------------------------
// Proofs from tiles, over the 70,000-leaf tree of the spec example.

const TREE_SIZE = 70_000;
const byLevel = new Map<number, Uint8Array[]>(); // tree level → node hashes by index
const allNodes = new Map<string, Uint8Array>(); // every perfect subtree, for roots
{
  const tree = new CompactRange();
  for (let i = 0; i < TREE_SIZE; i++) {
    for (const node of tree.append(hashLeaf(new TextEncoder().encode(`entry ${i}`)))) {
      allNodes.set(`${node.level}/${node.index}`, node.hash);
      // Tiles store the levels 0, 8, 16, …
      if (node.level % 8 === 0) {
        const row = byLevel.get(node.level) ?? [];
        row[Number(node.index)] = node.hash;
        byLevel.set(node.level, row);
      }
    }
  }
}

/** The bytes a log serves for `ref`: its hashes at level 8·L, concatenated. */
function tileBytes(ref: TileRef): Uint8Array {
  if (ref.kind !== 'hash') throw new Error('hash tiles only');
  const row = byLevel.get(ref.level * 8) ?? [];
  const out = new Uint8Array(ref.width * 32);
  for (const [i, id] of tileNodeIds(ref).entries())
    out.set(row[Number(id.index)] as Uint8Array, i * 32);
  return out;
}

function serve(refs: readonly TileRef[]): Map<string, Uint8Array> {
  return new Map(refs.map((r) => [tilePath(r), tileBytes(r)]));
}

const nodeReader: HashReader = (ids) =>
  ids.map((id) => allNodes.get(`${id.level}/${id.index}`) as Uint8Array);
const rootAt = (size: number): Promise<Uint8Array> => treeRoot(BigInt(size), nodeReader);

/** Records which kinds of tiles a test fetched: `<level>:full` or `<level>:partial`. */
function note(used: Set<string>, refs: readonly TileRef[]): void {
  for (const r of refs) {
    if (r.kind === 'hash') used.add(`${r.level}:${r.width < 256 ? 'partial' : 'full'}`);
  }
}
const COVERAGE = ['0:full', '0:partial', '1:full', '1:partial', '2:partial'];

describe('proofs from tiles', () => {
  it('recompute tree heads from the tiles tilesForTreeRoot names', async () => {
    for (const s of [1, 255, 256, 257, 65_535, 65_536, 65_537, TREE_SIZE]) {
      const tiles = serve(tilesForTreeRoot(BigInt(s)));
      const got = await treeRoot(BigInt(s), tileHashReader(BigInt(s), tiles));
      expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(await rootAt(s)).toString('hex'));
    }
  });

  const sizeAndIndex = fc
    .integer({ min: 1, max: TREE_SIZE })
    .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 })));

  it('build verifying inclusion proofs from exactly the tiles tilesForInclusion names', async () => {
    const edges: [number, number][] = [
      [1, 0],
      [256, 255],
      [257, 256],
      [65_536, 0],
      [65_537, 65_536],
      [TREE_SIZE, TREE_SIZE - 1],
      [TREE_SIZE, 0],
    ];
    const used = new Set<string>();
    const check = async ([n, m]: [number, number]): Promise<void> => {
      const refs = tilesForInclusion(BigInt(m), BigInt(n));
      note(used, refs);
      const read = tileHashReader(BigInt(n), serve(refs));
      const proof = await inclusionProof(BigInt(m), BigInt(n), read);
      const leaf = allNodes.get(`0/${m}`) as Uint8Array;
      verifyInclusion(leaf, BigInt(m), BigInt(n), proof, await rootAt(n));
    };
    for (const e of edges) await check(e);
    await fc.assert(fc.asyncProperty(sizeAndIndex, check), { numRuns: 200 });
    for (const k of COVERAGE) expect(used).toContain(k);
  });

  it('build verifying consistency proofs from exactly the tiles tilesForConsistency names', async () => {
    const twoSizes = fc
      .integer({ min: 1, max: TREE_SIZE })
      .chain((n) => fc.tuple(fc.integer({ min: 1, max: n }), fc.constant(n)));
    const used = new Set<string>();
    const check = async ([m, n]: [number, number]): Promise<void> => {
      const refs = tilesForConsistency(BigInt(m), BigInt(n));
      note(used, refs);
      const read = tileHashReader(BigInt(n), serve(refs));
      const proof = await consistencyProof(BigInt(m), BigInt(n), read);
      verifyConsistency(BigInt(m), BigInt(n), proof, await rootAt(m), await rootAt(n));
    };
    for (const e of [
      [1, 2],
      [255, 256],
      [256, 257],
      [300, 65_536],
      [65_536, TREE_SIZE],
      [TREE_SIZE - 1, TREE_SIZE],
    ] as [number, number][])
      await check(e);
    await fc.assert(fc.asyncProperty(twoSizes, check), { numRuns: 200 });
    for (const k of COVERAGE) expect(used).toContain(k);
  });

  it('fall back to the full tile when the partial one is not provided', async () => {
    // At size 1,000 tile 0/003 is partial (width 232); the 70,000-leaf tree has it full.
    const refs = tilesForInclusion(999n, 1000n).map((r) =>
      r.kind === 'hash' && r.level === 0 ? { ...r, width: 256 } : r,
    );
    const tiles = serve(refs);
    expect([...tiles.keys()]).toContain('tile/0/003');
    const proof = await inclusionProof(999n, 1000n, tileHashReader(1000n, tiles));
    verifyInclusion(allNodes.get('0/999') as Uint8Array, 999n, 1000n, proof, await rootAt(1000));
  });

  it('reject missing tiles, tiles of the wrong size and nodes beyond the tree', async () => {
    const refs = tilesForInclusion(5n, 1000n);
    const tiles = serve(refs);
    const [first] = refs;
    if (first === undefined) throw new Error('no tiles');
    const missing = new Map(tiles);
    missing.delete(tilePath(first));
    await expect(inclusionProof(5n, 1000n, tileHashReader(1000n, missing))).rejects.toMatchObject({
      code: 'TILE_MISSING',
    });
    const short = new Map(tiles);
    short.set(tilePath(first), tileBytes(first).subarray(32));
    await expect(inclusionProof(5n, 1000n, tileHashReader(1000n, short))).rejects.toMatchObject({
      code: 'TILE_WRONG_SIZE',
    });
    const read = tileHashReader(1000n, tiles);
    expect(codeOf(() => read([{ level: 3, index: 125n }]))).toBe('TILE_NODE_OUT_OF_RANGE');
    expect(codeOf(() => read([{ level: 0, index: 1000n }]))).toBe('TILE_NODE_OUT_OF_RANGE');
  });

  it('reject a proof built from a tampered tile', async () => {
    const refs = tilesForInclusion(70n, 5000n);
    const tiles = serve(refs);
    for (const [path, bytes] of tiles) {
      const bent = new Map(tiles);
      const copy = Uint8Array.from(bytes);
      copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 1;
      bent.set(path, copy);
      const proof = await inclusionProof(70n, 5000n, tileHashReader(5000n, bent));
      const root = await rootAt(5000);
      const leaf = allNodes.get('0/70') as Uint8Array;
      // Only hashes the proof actually reads matter; the rest of a tile is ignored.
      const verdict = codeOf(() => {
        verifyInclusion(leaf, 70n, 5000n, proof, root);
      });
      expect(['accepted', 'INCLUSION_PROOF_INVALID']).toContain(verdict);
      if (verdict === 'accepted')
        expect(proof).toEqual(await inclusionProof(70n, 5000n, tileHashReader(5000n, tiles)));
    }
  });
});

describe('entry bundles', () => {
  it('round-trip any entries, including empty and 65,535-byte ones', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 256 }), (entries) => {
        const decoded = decodeBundle(encodeBundle(entries));
        expect(decoded.map((e) => Buffer.from(e).toString('hex'))).toEqual(
          entries.map((e) => Buffer.from(e).toString('hex')),
        );
      }),
      { numRuns: 200 },
    );
    const big = new Uint8Array(MAX_ENTRY_SIZE).fill(7);
    const bytes = encodeBundle([big, new Uint8Array(0)]);
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xff]);
    expect(decodeBundle(bytes).map((e) => e.length)).toEqual([MAX_ENTRY_SIZE, 0]);
  });

  it('encode lengths as big-endian uint16', () => {
    expect([...encodeBundle([Uint8Array.of(9), new Uint8Array(0x102)]).subarray(0, 5)]).toEqual([
      0, 1, 9, 1, 2,
    ]);
  });

  it('refuse an entry over 65,535 bytes and more than 256 entries', () => {
    expect(codeOf(() => encodeBundle([new Uint8Array(MAX_ENTRY_SIZE + 1)]))).toBe(
      'BUNDLE_ENTRY_TOO_LARGE',
    );
    expect(codeOf(() => encodeBundle(Array.from({ length: 257 }, () => new Uint8Array(0))))).toBe(
      'BUNDLE_TOO_MANY_ENTRIES',
    );
  });

  it('decode a cut bundle only when the cut falls between entries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 20 }),
        fc.nat(),
        (entries, cutAt) => {
          const bytes = encodeBundle(entries);
          const cut = cutAt % bytes.length;
          const boundaries = [0];
          for (const e of entries) boundaries.push((boundaries.at(-1) as number) + 2 + e.length);
          const whole = boundaries.indexOf(cut);
          const prefix = bytes.subarray(0, cut);
          if (whole >= 0) expect(decodeBundle(prefix)).toHaveLength(whole);
          else expect(codeOf(() => decodeBundle(prefix))).toBe('BUNDLE_TRUNCATED');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reject a truncated length prefix and a truncated body', () => {
    expect(codeOf(() => decodeBundle(Uint8Array.of(0)))).toBe('BUNDLE_TRUNCATED');
    expect(codeOf(() => decodeBundle(Uint8Array.of(0, 1, 9, 0)))).toBe('BUNDLE_TRUNCATED');
    expect(codeOf(() => decodeBundle(Uint8Array.of(0, 3, 1, 2)))).toBe('BUNDLE_TRUNCATED');
  });

  it('reject more entries than allowed', () => {
    const three = encodeBundle([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
    expect(codeOf(() => decodeBundle(three, { maxEntries: 2 }))).toBe('BUNDLE_TOO_MANY_ENTRIES');
    expect(decodeBundle(three, { maxEntries: 3 })).toHaveLength(3);
    const many = new Uint8Array(2 * 257); // 257 empty entries
    expect(codeOf(() => decodeBundle(many))).toBe('BUNDLE_TOO_MANY_ENTRIES');
    expect(decodeBundle(many.subarray(2))).toHaveLength(256);
  });

  it('return entries that do not alias the input', () => {
    const bytes = encodeBundle([Uint8Array.of(1, 2, 3)]);
    const [entry] = decodeBundle(bytes);
    bytes[2] = 99;
    expect([...(entry ?? [])]).toEqual([1, 2, 3]);
  });
});
