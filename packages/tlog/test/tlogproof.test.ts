import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../src/checkpoint.js';
import { CompactRange } from '../src/compact.js';
import { cosignCheckpoint, generateCosignerKey } from '../src/cosignature.js';
import { TlogError } from '../src/errors.js';
import { type NodeId, hashLeaf } from '../src/hash.js';
import { encodeBase64, generateSignerKey, parseSignerKey, signNote } from '../src/note.js';
import { parsePolicy } from '../src/policy.js';
import { treeRoot, inclusionProof } from '../src/proof.js';
import {
  MAX_PROOF_HASHES,
  type TlogProof,
  formatTlogProof,
  parseTlogProof,
  verifyTlogProof,
} from '../src/tlogproof.js';
import { codeOf } from './codes.js';

const dir = (sub: string): string =>
  fileURLToPath(new URL(`../testdata/tlogproof/${sub}/`, import.meta.url));
const read = (sub: string, file: string): Uint8Array =>
  new Uint8Array(readFileSync(dir(sub) + file));
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// Fixed seeds and timestamps: Ed25519 is deterministic, so the receipt is too
// (testdata/tlogproof/valid/golden.tlog-proof).
const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const ORIGIN = 'example.com/fancylog';
const LOG = generateSignerKey(ORIGIN, seed(0x01));
const OTHER_LOG = generateSignerKey(ORIGIN, seed(0x02));
const W = [1, 2, 3].map((i) => generateCosignerKey(`witness${i}.example`, seed(0x30 + i)));
const SIZE = 13n;
const INDEX = 5n;
const entry = (i: bigint | number): Uint8Array => enc(`entry ${i}`);

const policyText = (quorum: string, logKey = LOG.verifierKey): string =>
  [
    `log ${logKey}`,
    ...W.map((k, i) => `witness W${i + 1} ${k.verifierKey}`),
    `group witnesses ${quorum} W1 W2 W3`,
    'quorum witnesses',
    '',
  ].join('\n');
const QUORUM2 = parsePolicy(policyText('2'));
const QUORUM3 = parsePolicy(policyText('3'));

/** A real tree: every completed node the compact range reports, keyed by position. */
async function buildLog(size: bigint): Promise<{
  root: Uint8Array;
  proof: (index: bigint) => Promise<Uint8Array[]>;
}> {
  const range = new CompactRange();
  const nodes = new Map<string, Uint8Array>();
  const key = (id: NodeId): string => `${id.level}/${id.index}`;
  for (let i = 0n; i < size; i++) {
    for (const n of range.append(hashLeaf(entry(i)))) nodes.set(key(n), n.hash);
  }
  const read = (ids: readonly NodeId[]): Uint8Array[] =>
    ids.map((id) => {
      const h = nodes.get(key(id));
      if (h === undefined) throw new Error(`missing node ${key(id)}`);
      return h;
    });
  // The compact range and the proof module agree on the root.
  expect(await treeRoot(size, read)).toEqual(range.root());
  return { root: range.root(), proof: (index) => inclusionProof(index, size, read) };
}

/** A checkpoint signed by `logKey` and cosigned by `cosigners` (witness indices). */
function checkpointNote(
  size: bigint,
  root: Uint8Array,
  cosigners: number[],
  logKey = LOG.signerKey,
): string {
  const text = formatCheckpoint({ origin: ORIGIN, size, rootHash: root, extensions: [] });
  let note = signNote(text, [parseSignerKey(logKey)]);
  for (const i of cosigners) {
    const w = W[i];
    if (w === undefined) throw new Error('no such witness');
    note += cosignCheckpoint(text, w.signerKey, 1_700_000_000n + BigInt(i));
  }
  return note;
}

async function receipt(
  opts: { index?: bigint; cosigners?: number[]; logKey?: string; extra?: Uint8Array } = {},
): Promise<string> {
  const log = await buildLog(SIZE);
  const index = opts.index ?? INDEX;
  return formatTlogProof({
    extra: opts.extra,
    index,
    proof: await log.proof(index),
    checkpoint: checkpointNote(SIZE, log.root, opts.cosigners ?? [0, 2], opts.logKey),
  });
}

describe('verifyTlogProof', () => {
  it('accepts a receipt cosigned by 2 of 3 witnesses under a 2-of-3 quorum', async () => {
    const text = await receipt();
    const got = verifyTlogProof(text, entry(INDEX), QUORUM2);
    expect(got.index).toBe(INDEX);
    expect(got.checkpoint.origin).toBe(ORIGIN);
    expect(got.checkpoint.size).toBe(SIZE);
    expect(got.cosigners).toEqual(['W1', 'W3']);
    expect(got.extra).toBeUndefined();
    // Bytes and a parsed receipt verify the same way.
    expect(verifyTlogProof(enc(text), entry(INDEX), QUORUM2).index).toBe(INDEX);
    expect(verifyTlogProof(parseTlogProof(text), entry(INDEX), QUORUM2).index).toBe(INDEX);
  });

  it('matches the golden receipt byte for byte', async () => {
    const golden = new TextDecoder().decode(read('valid', 'golden.tlog-proof'));
    expect(await receipt({ extra: enc('build 42') })).toBe(golden);
    const got = verifyTlogProof(golden, entry(INDEX), QUORUM2);
    expect(got.extra).toEqual(enc('build 42'));
  });

  it('accepts every index of trees of several sizes', async () => {
    for (const size of [1n, 2n, 3n, 7n, 8n, 9n, 16n, 17n]) {
      const log = await buildLog(size);
      const checkpoint = checkpointNote(size, log.root, [0, 1]);
      for (let index = 0n; index < size; index++) {
        const text = formatTlogProof({ index, proof: await log.proof(index), checkpoint });
        expect(verifyTlogProof(text, entry(index), QUORUM2).index).toBe(index);
        // The same proof does not vouch for a neighbour's entry.
        expect(codeOf(() => verifyTlogProof(text, entry(index + 1n), QUORUM2))).toBe(
          'TLOGPROOF_INCLUSION_INVALID',
        );
      }
    }
  });

  it('refuses a receipt under a 3-of-3 quorum', async () => {
    const text = await receipt();
    try {
      verifyTlogProof(text, entry(INDEX), QUORUM3);
      expect.unreachable();
    } catch (err) {
      expect((err as TlogError).code).toBe('POLICY_QUORUM_NOT_MET');
      expect((err as TlogError).evidence).toMatchObject({ cosigners: ['W1', 'W3'] });
    }
  });

  it('refuses a modified entry', async () => {
    const text = await receipt();
    try {
      verifyTlogProof(text, enc('entry 6'), QUORUM2);
      expect.unreachable();
    } catch (err) {
      expect((err as TlogError).code).toBe('TLOGPROOF_INCLUSION_INVALID');
      expect((err as TlogError).cause).toBeInstanceOf(TlogError);
      expect((err as TlogError).evidence).toMatchObject({ index: '5', size: '13' });
    }
  });

  it('refuses a modified index', async () => {
    const text = await receipt();
    expect(
      codeOf(() =>
        verifyTlogProof(text.replace('\nindex 5\n', '\nindex 4\n'), entry(INDEX), QUORUM2),
      ),
    ).toBe('TLOGPROOF_INCLUSION_INVALID');
    expect(
      codeOf(() =>
        verifyTlogProof(text.replace('\nindex 5\n', '\nindex 13\n'), entry(INDEX), QUORUM2),
      ),
    ).toBe('TLOGPROOF_INDEX_OUT_OF_RANGE');
  });

  it('refuses a modified, missing or extra proof hash', async () => {
    const p = parseTlogProof(await receipt());
    const flipped = p.proof.map((h, i) => (i === 1 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h));
    const variants: Uint8Array[][] = [flipped, p.proof.slice(1), [...p.proof, new Uint8Array(32)]];
    for (const proof of variants) {
      const text = formatTlogProof({ ...p, proof });
      expect(codeOf(() => verifyTlogProof(text, entry(INDEX), QUORUM2))).toBe(
        'TLOGPROOF_INCLUSION_INVALID',
      );
    }
  });

  it('refuses a modified checkpoint', async () => {
    const text = await receipt();
    // Same size, but the signatures no longer match the text.
    const p = parseTlogProof(text);
    const log = await buildLog(SIZE);
    const otherRoot = encodeBase64(log.root.map((b) => b ^ 0xff));
    const tampered = { ...p, checkpoint: p.checkpoint.replace(encodeBase64(log.root), otherRoot) };
    expect(tampered.checkpoint).not.toBe(p.checkpoint);
    expect(codeOf(() => verifyTlogProof(tampered, entry(INDEX), QUORUM2))).toBe(
      'NOTE_SIGNATURE_INVALID',
    );
    // A validly signed checkpoint of a different tree does not contain the entry there.
    const bigger = await buildLog(SIZE + 1n);
    const swapped = { ...p, checkpoint: checkpointNote(SIZE + 1n, bigger.root, [0, 1, 2]) };
    expect(codeOf(() => verifyTlogProof(swapped, entry(INDEX), QUORUM2))).toBe(
      'TLOGPROOF_INCLUSION_INVALID',
    );
  });

  it('refuses a checkpoint signed by a log key the policy does not list', async () => {
    const text = await receipt({ logKey: OTHER_LOG.signerKey });
    expect(codeOf(() => verifyTlogProof(text, entry(INDEX), QUORUM2))).toBe(
      'POLICY_NO_LOG_SIGNATURE',
    );
    const otherPolicy = parsePolicy(policyText('2', OTHER_LOG.verifierKey));
    expect(verifyTlogProof(text, entry(INDEX), otherPolicy).index).toBe(INDEX);
  });

  it('does not authenticate the extra data', async () => {
    const a = await receipt({ extra: enc('one') });
    const b = formatTlogProof({ ...parseTlogProof(a), extra: enc('two') });
    expect(verifyTlogProof(b, entry(INDEX), QUORUM2).extra).toEqual(enc('two'));
  });

  it('verifies against a log-only policy (quorum none)', async () => {
    const text = await receipt({ cosigners: [] });
    const logOnly = parsePolicy(`log ${LOG.verifierKey}\nquorum none\n`);
    expect(verifyTlogProof(text, entry(INDEX), logOnly).cosigners).toEqual([]);
    expect(codeOf(() => verifyTlogProof(text, entry(INDEX), QUORUM2))).toBe(
      'POLICY_QUORUM_NOT_MET',
    );
  });

  it('a mutated receipt is refused with a TlogError or still proves the same thing', async () => {
    const text = await receipt({ cosigners: [0, 1, 2], extra: enc('x') });
    const bytes = enc(text);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, mask) => {
        const mutated = bytes.slice();
        mutated[at] = (mutated[at] ?? 0) ^ mask;
        try {
          const got = verifyTlogProof(mutated, entry(INDEX), QUORUM2);
          // Only unauthenticated parts may change: the extra data, or a
          // cosignature line turned unknown while the quorum still holds.
          expect(got.index).toBe(INDEX);
          expect(got.checkpoint.size).toBe(SIZE);
        } catch (err) {
          expect(err).toBeInstanceOf(TlogError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseTlogProof', () => {
  it('parses the spec example exactly', () => {
    const bytes = read('valid', 'spec-example.tlog-proof');
    const p = parseTlogProof(bytes);
    expect(p.index).toBe(73894n);
    expect(new TextDecoder().decode(p.extra)).toMatch(/^age-v1\.2\.1-darwin-arm64\.tar\.gz/);
    expect(p.proof.map(encodeBase64)).toEqual([
      'gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=',
      'B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=',
      'EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=',
      'RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=',
      'AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=',
    ]);
    expect(p.checkpoint.startsWith('example.com/fancylog\n109482\nsFodV')).toBe(true);
    expect(p.checkpoint.endsWith('— witness3.example S4X82uH5[...]3oEcROGLFQ==\n')).toBe(true);
    // Formatting gives back the same bytes.
    expect(enc(formatTlogProof(p))).toEqual(bytes);
    // Its signatures are elided, so it can never verify.
    expect(codeOf(() => verifyTlogProof(bytes, enc(''), QUORUM2))).toBe('NOTE_MALFORMED');
  });

  it('round-trips receipts with and without extra data or proof hashes', () => {
    const cases: TlogProof[] = [
      { index: 0n, proof: [], checkpoint: 'a\n0\nb\n\n— c d\n' },
      { index: 18446744073709551615n, proof: [new Uint8Array(32)], checkpoint: 'x\n' },
      {
        extra: new Uint8Array([0, 255]),
        index: 7n,
        proof: [new Uint8Array(32).fill(7)],
        checkpoint: 'x\n',
      },
      {
        index: 1n,
        proof: Array.from({ length: MAX_PROOF_HASHES }, () => new Uint8Array(32)),
        checkpoint: 'x\n',
      },
    ];
    for (const p of cases) expect(parseTlogProof(formatTlogProof(p))).toEqual(p);
    // No extra line at all for empty extra data.
    const empty = formatTlogProof({
      extra: new Uint8Array(0),
      index: 0n,
      proof: [],
      checkpoint: 'x\n',
    });
    expect(empty).toBe('c2sp.org/tlog-proof@v1\nindex 0\n\nx\n');
  });

  const files = readdirSync(dir('invalid')).filter((f) => f.endsWith('.tlog-proof'));
  it.each(files)('%s is refused with the code in its name', (file) => {
    const want = /\.(TLOGPROOF_[A-Z_0-9]+)\.tlog-proof$/.exec(file)?.[1];
    expect(want).toBeDefined();
    expect(codeOf(() => parseTlogProof(read('invalid', file)))).toBe(want);
  });

  it('refuses too many proof lines', () => {
    const hash = encodeBase64(new Uint8Array(32));
    const lines = (n: number): string =>
      `c2sp.org/tlog-proof@v1\nindex 0\n${`${hash}\n`.repeat(n)}\nx\n`;
    expect(parseTlogProof(lines(MAX_PROOF_HASHES)).proof).toHaveLength(MAX_PROOF_HASHES);
    expect(codeOf(() => parseTlogProof(lines(MAX_PROOF_HASHES + 1)))).toBe(
      'TLOGPROOF_PROOF_TOO_LONG',
    );
  });

  it('refuses oversize input before reading it', async () => {
    const text = await receipt();
    const size = enc(text).length;
    expect(parseTlogProof(text, { maxSize: size }).index).toBe(INDEX);
    expect(codeOf(() => parseTlogProof(text, { maxSize: size - 1 }))).toBe('TLOGPROOF_TOO_LARGE');
    expect(codeOf(() => parseTlogProof(enc(text), { maxSize: size - 1 }))).toBe(
      'TLOGPROOF_TOO_LARGE',
    );
    expect(codeOf(() => verifyTlogProof(text, entry(INDEX), QUORUM2, { maxSize: 100 }))).toBe(
      'TLOGPROOF_TOO_LARGE',
    );
    // The default limit.
    expect(
      codeOf(() => parseTlogProof('c2sp.org/tlog-proof@v1\nindex 0\n\n' + 'x'.repeat(70_000))),
    ).toBe('TLOGPROOF_TOO_LARGE');
  });

  it('refuses what it cannot format', () => {
    const ok: TlogProof = { index: 0n, proof: [], checkpoint: 'x\n' };
    expect(codeOf(() => formatTlogProof({ ...ok, index: -1n }))).toBe('TLOGPROOF_BAD_INDEX');
    expect(codeOf(() => formatTlogProof({ ...ok, index: 1n << 64n }))).toBe('TLOGPROOF_BAD_INDEX');
    expect(codeOf(() => formatTlogProof({ ...ok, proof: [new Uint8Array(31)] }))).toBe(
      'TLOGPROOF_BAD_HASH',
    );
    const long = Array.from({ length: MAX_PROOF_HASHES + 1 }, () => new Uint8Array(32));
    expect(codeOf(() => formatTlogProof({ ...ok, proof: long }))).toBe('TLOGPROOF_PROOF_TOO_LONG');
    for (const checkpoint of ['', 'x', '\nx\n']) {
      expect(codeOf(() => formatTlogProof({ ...ok, checkpoint }))).toBe(
        'TLOGPROOF_MISSING_CHECKPOINT',
      );
    }
  });

  it('random input only ever yields a receipt or a TlogError', () => {
    const hash = encodeBase64(new Uint8Array(32).fill(9));
    const line = fc.oneof(
      fc.constantFrom('c2sp.org/tlog-proof@v1', 'index 0', 'index 12', 'extra AA==', hash, '', 'x'),
      fc.string({ maxLength: 50 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(line, { maxLength: 10 }).map((l) => l.join('\n')),
          fc.uint8Array({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 200 }),
        ),
        (input) => {
          try {
            parseTlogProof(input);
          } catch (err) {
            expect(err).toBeInstanceOf(TlogError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
