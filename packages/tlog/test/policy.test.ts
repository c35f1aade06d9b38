import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../src/checkpoint.js';
import { cosignCheckpoint, generateCosignerKey } from '../src/cosignature.js';
import { TlogError } from '../src/errors.js';
import { sha256 } from '../src/hash.js';
import { generateSignerKey, parseSignerKey, parseVerifierKey, signNote } from '../src/note.js';
import { type Policy, parsePolicy, verifyCheckpointWithPolicy } from '../src/policy.js';
import { codeOf } from './codes.js';

const dir = (sub: string): string =>
  fileURLToPath(new URL(`../testdata/policy/${sub}/`, import.meta.url));
const read = (sub: string, file: string): Uint8Array =>
  new Uint8Array(readFileSync(dir(sub) + file));
const files = (sub: string): string[] => readdirSync(dir(sub)).filter((f) => f.endsWith('.policy'));

/** `# <directive>: ...` comment lines; read as latin1 so non-UTF-8 files still yield them. */
function directives(bytes: Uint8Array, name: string): string[] {
  return Buffer.from(bytes)
    .toString('latin1')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.startsWith(`# ${name}:`))
    .map((l) => l.slice(`# ${name}:`.length).trim());
}

function utf8Directives(bytes: Uint8Array, name: string): string[][] {
  return new TextDecoder()
    .decode(bytes)
    .split('\n')
    .filter((l) => l.startsWith(`# ${name}:`))
    .map((l) => l.slice(`# ${name}:`.length).split(' ').filter(Boolean));
}

// The keys in testdata/policy come from these seeds, so tests can sign for them.
const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const LOG = generateSignerKey('example.com/fancylog', seed(0x01));
const OTHER_LOG = generateSignerKey('example.org/otherlog', seed(0x02));
const X = [1, 2, 3].map((i) => generateCosignerKey(`x${i}.example`, seed(0x10 + i)));
const Y = [1, 2, 3].map((i) => generateCosignerKey(`y${i}.example`, seed(0x20 + i)));

describe('parsePolicy: valid files', () => {
  it.each(files('valid'))('%s parses and evaluates its quorum table', (file) => {
    const bytes = read('valid', file);
    const policy = parsePolicy(bytes);
    // The same text as a string gives the same policy.
    expect(parsePolicy(new TextDecoder().decode(bytes)).quorum).toBe(policy.quorum);
    const met = utf8Directives(bytes, 'met');
    const notMet = utf8Directives(bytes, 'not-met');
    expect(met.length + notMet.length).toBeGreaterThan(0);
    for (const names of met) expect(policy.quorumMet(new Set(names)), names.join(' ')).toBe(true);
    for (const names of notMet) {
      expect(policy.quorumMet(new Set(names)), names.join(' ')).toBe(false);
    }
  });

  it('the spec example exposes its logs, witnesses, groups and quorum', () => {
    const policy = parsePolicy(read('valid', 'spec-example.policy'));
    expect(policy.logs.map((l) => l.verifier.name)).toEqual(['example.com/fancylog']);
    expect(policy.logs[0]?.vkey).toBe(LOG.verifierKey);
    expect(policy.witnesses.map((w) => w.name)).toEqual(['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3']);
    expect(policy.witnesses.map((w) => w.vkey)).toEqual([...X, ...Y].map((k) => k.verifierKey));
    expect(policy.groups).toEqual([
      { name: 'X-witnesses', threshold: 2, members: ['X1', 'X2', 'X3'] },
      { name: 'Y-witnesses', threshold: 1, members: ['Y1', 'Y2', 'Y3'] },
      { name: 'X-and-Y', threshold: 2, members: ['X-witnesses', 'Y-witnesses'] },
    ]);
    expect(policy.quorum).toBe('X-and-Y');
  });

  it('keeps URLs and accepts tabs, padding and a missing final newline', () => {
    const policy = parsePolicy(read('valid', 'whitespace.policy'));
    expect(policy.logs.map((l) => l.url)).toEqual(['https://example.com/log']);
    expect(policy.witnesses.map((w) => [w.name, w.url])).toEqual([
      ['X1', 'https://x1.example/witness'],
      ['Y1', undefined],
    ]);
  });
});

describe('parsePolicy: invalid files', () => {
  it.each(files('invalid'))('%s is refused with its code', (file) => {
    const bytes = read('invalid', file);
    const [want] = directives(bytes, 'want');
    expect(want).toMatch(/^POLICY_/);
    expect(codeOf(() => parsePolicy(bytes))).toBe(want);
  });

  it('reports the offending line', () => {
    const text = `# comment\n\nlog ${LOG.verifierKey}\nlogg x\nquorum none\n`;
    try {
      parsePolicy(text);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TlogError);
      expect((err as TlogError).evidence).toMatchObject({ line: 4, keyword: 'logg' });
    }
  });

  it('chains the key parser error as the cause', () => {
    try {
      parsePolicy(`witness X1 ${LOG.verifierKey}\nquorum X1\n`);
      expect.unreachable();
    } catch (err) {
      expect((err as TlogError).code).toBe('POLICY_BAD_KEY');
      expect((err as TlogError).cause).toBeInstanceOf(TlogError);
    }
  });

  it('refuses oversize input, by bytes and by lines', () => {
    const base = `log ${LOG.verifierKey}\nquorum none\n`;
    expect(parsePolicy(base, { maxSize: base.length }).logs).toHaveLength(1);
    expect(codeOf(() => parsePolicy(base, { maxSize: base.length - 1 }))).toBe('POLICY_TOO_LARGE');
    const bytes = new TextEncoder().encode(base);
    expect(codeOf(() => parsePolicy(bytes, { maxSize: bytes.length - 1 }))).toBe(
      'POLICY_TOO_LARGE',
    );
    // Multi-byte characters count as their UTF-8 size.
    const wide = `# ${'é'.repeat(40)}\nquorum none\n`;
    expect(codeOf(() => parsePolicy(wide, { maxSize: wide.length }))).toBe('POLICY_TOO_LARGE');
    const comments = '#\n'.repeat(10) + 'quorum none\n';
    expect(parsePolicy(comments, { maxLines: 11 }).quorum).toBe('none');
    expect(codeOf(() => parsePolicy(comments, { maxLines: 10 }))).toBe('POLICY_TOO_LARGE');
    expect(codeOf(() => parsePolicy('#'.repeat(70_000) + '\nquorum none\n'))).toBe(
      'POLICY_TOO_LARGE',
    );
  });

  it('refuses a lone surrogate in a string', () => {
    expect(codeOf(() => parsePolicy('# \ud800\nquorum none\n'))).toBe('POLICY_BAD_CHARACTER');
  });
});

describe('Policy.quorumMet', () => {
  const w = (n: number): string =>
    Array.from({ length: n }, (_, i) => {
      const key = i < 3 ? X[i] : Y[i - 3];
      return `witness W${i + 1} ${key?.verifierKey ?? ''}\n`;
    }).join('');

  it.each([
    // [policy tail, cosigners, want]
    ['quorum W1', [], false],
    ['quorum W1', ['W1'], true],
    ['quorum W1', ['W2', 'W3'], false],
    ['quorum none', [], true],
    ['group g 1 W1 W2 W3\nquorum g', ['W3'], true],
    ['group g 3 W1 W2 W3\nquorum g', ['W1', 'W2'], false],
    ['group g 3 W1 W2 W3\nquorum g', ['W1', 'W2', 'W3'], true],
    ['group g all W1\nquorum g', ['W1'], true],
    ['group g any W1\nquorum g', [], false],
    ['group g 2 W1 W2 W3\nquorum g', ['W1', 'W1'], false],
    ['group g 2 W1 W2 W3\nquorum g', ['W1', 'W4'], false],
    ['group g 2 W1 W2 W3\nquorum g', ['W2', 'W3'], true],
    // A group name passed as a cosigner does not satisfy anything: only witnesses cosign.
    ['group a any W1\ngroup b all a W2\nquorum b', ['a', 'W2'], false],
    ['group a any W1\ngroup b all a W2\nquorum b', ['W1', 'W2'], true],
    // The quorum may name a group that is also a member elsewhere.
    ['group a 2 W1 W2 W3\ngroup b all a W4\nquorum a', ['W1', 'W3'], true],
    // Nested 2-of-(1-of-2, 2-of-2, W5).
    ['group a any W1 W2\ngroup b all W3 W4\ngroup c 2 a b W5\nquorum c', ['W2', 'W5'], true],
    ['group a any W1 W2\ngroup b all W3 W4\ngroup c 2 a b W5\nquorum c', ['W1', 'W2', 'W3'], false],
    ['group a any W1 W2\ngroup b all W3 W4\ngroup c 2 a b W5\nquorum c', ['W3', 'W4', 'W1'], true],
    ['group a any W1 W2\ngroup b all W3 W4\ngroup c 2 a b W5\nquorum c', ['W3', 'W4'], false],
  ] as const)('%j with %j → %s', (tail, cosigners, want) => {
    const policy = parsePolicy(`${w(6)}${tail}\n`);
    expect(policy.quorumMet(new Set(cosigners))).toBe(want);
  });

  it('evaluates a deep chain of groups without recursion limits', () => {
    const depth = 5000;
    let text = `witness W1 ${X[0]?.verifierKey ?? ''}\ngroup g0 any W1\n`;
    for (let i = 1; i < depth; i++) text += `group g${i} all g${i - 1}\n`;
    text += `quorum g${depth - 1}\n`;
    const policy = parsePolicy(text, { maxSize: 1 << 20, maxLines: depth + 10 });
    expect(policy.quorumMet(new Set(['W1']))).toBe(true);
    expect(policy.quorumMet(new Set())).toBe(false);
  });
});

describe('parsePolicy: random input', () => {
  const keys = [LOG.verifierKey, ...X.map((k) => k.verifierKey), 'a+b+c', 'AQ=='];
  const token = fc.oneof(
    fc.constantFrom('log', 'witness', 'group', 'quorum', 'none', 'any', 'all', '#', '0', '2', 'X1'),
    fc.constantFrom(...keys),
    fc.string({ maxLength: 6 }),
  );
  const line = fc.array(token, { maxLength: 6 }).map((t) => t.join(' '));

  it('only ever returns a policy or throws a TlogError (policy-like text)', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        try {
          parsePolicy(lines.join('\n'));
        } catch (err) {
          expect(err).toBeInstanceOf(TlogError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('only ever returns a policy or throws a TlogError (arbitrary bytes and strings)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
        (input) => {
          try {
            parsePolicy(input);
          } catch (err) {
            expect(err).toBeInstanceOf(TlogError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('quorumMet is monotone: more cosigners never break a met quorum', () => {
    const policy = parsePolicy(read('valid', 'nested.policy'));
    const names = policy.witnesses.map((w) => w.name);
    fc.assert(
      fc.property(fc.subarray(names), fc.subarray(names), (a, b) => {
        if (policy.quorumMet(new Set(a)))
          expect(policy.quorumMet(new Set([...a, ...b]))).toBe(true);
      }),
    );
  });
});

describe('verifyCheckpointWithPolicy', () => {
  const policy = parsePolicy(read('valid', 'spec-example.policy'));
  const origin = 'example.com/fancylog';
  const text = formatCheckpoint({
    origin,
    size: 10n,
    rootHash: sha256(new TextEncoder().encode('root')),
    extensions: [],
  });
  const logSigned = signNote(text, [parseSignerKey(LOG.signerKey)]);
  const cosign = (note: string, keys: { signerKey: string }[], ts = 1_700_000_000n): string =>
    note + keys.map((k, i) => cosignCheckpoint(text, k.signerKey, ts + BigInt(i))).join('');

  const code = (note: string, p: Policy = policy, opts = {}): string =>
    codeOf(() => verifyCheckpointWithPolicy(note, p, opts));

  it('accepts a checkpoint meeting the quorum and reports who cosigned when', () => {
    const x1 = X[0];
    const x3 = X[2];
    const y2 = Y[1];
    if (x1 === undefined || x3 === undefined || y2 === undefined) throw new Error('keys');
    const note = cosign(logSigned, [y2, x3, x1]);
    const got = verifyCheckpointWithPolicy(note, policy);
    expect(got.checkpoint.origin).toBe(origin);
    expect(got.checkpoint.size).toBe(10n);
    expect(got.log).toBe(origin);
    expect(got.cosigners).toEqual(['X1', 'X3', 'Y2']);
    const keyId = (name: string): number | undefined =>
      policy.witnesses.find((w) => w.name === name)?.verifier.keyId;
    expect(got.cosignatures).toEqual([
      { witness: 'X1', keyName: 'x1.example', keyId: keyId('X1'), timestamp: 1_700_000_002n },
      { witness: 'X3', keyName: 'x3.example', keyId: keyId('X3'), timestamp: 1_700_000_001n },
      { witness: 'Y2', keyName: 'y2.example', keyId: keyId('Y2'), timestamp: 1_700_000_000n },
    ]);
    expect(got.futureDated).toEqual([]);
    // Bytes work the same as a string.
    expect(verifyCheckpointWithPolicy(new TextEncoder().encode(note), policy).cosigners).toEqual(
      got.cosigners,
    );
  });

  it('refuses a checkpoint short of the quorum, with the verified witnesses as evidence', () => {
    const note = cosign(
      logSigned,
      [X[0], X[1]].flatMap((k) => (k ? [k] : [])),
    );
    try {
      verifyCheckpointWithPolicy(note, policy);
      expect.unreachable();
    } catch (err) {
      expect((err as TlogError).code).toBe('POLICY_QUORUM_NOT_MET');
      expect((err as TlogError).evidence).toMatchObject({ cosigners: ['X1', 'X2'] });
    }
    expect(code(logSigned)).toBe('POLICY_QUORUM_NOT_MET');
  });

  it('ignores cosignatures from witnesses outside the policy', () => {
    const stranger = generateCosignerKey('x1.example', seed(0x77));
    const x2 = X[1];
    const y1 = Y[0];
    if (x2 === undefined || y1 === undefined) throw new Error('keys');
    expect(code(cosign(logSigned, [stranger, x2, y1]))).toBe('POLICY_QUORUM_NOT_MET');
  });

  it('does not count future-dated cosignatures when given the time', () => {
    const [x1, x2] = X;
    const [y1] = Y;
    if (x1 === undefined || x2 === undefined || y1 === undefined) throw new Error('keys');
    const note = cosign(logSigned, [x1, x2, y1], 1000n);
    expect(verifyCheckpointWithPolicy(note, policy, { now: 1002n }).cosigners).toHaveLength(3);
    // y1 signed at 1002: one second too late for now = 1001.
    expect(code(note, policy, { now: 1001n })).toBe('POLICY_QUORUM_NOT_MET');
    const skewed = verifyCheckpointWithPolicy(note, policy, { now: 1001n, maxFutureSkew: 1n });
    expect(skewed.futureDated).toEqual([]);
  });

  it('refuses a checkpoint signed by another log', () => {
    const other = signNote(text, [parseSignerKey(OTHER_LOG.signerKey)]);
    expect(code(cosign(other, X))).toBe('POLICY_NO_LOG_SIGNATURE');
    // Without any cosignature nothing the policy knows verifies at all.
    expect(code(other)).toBe('POLICY_NO_LOG_SIGNATURE');
  });

  it('refuses a log whose key name is not the checkpoint origin', () => {
    const otherPolicy = parsePolicy(`log ${OTHER_LOG.verifierKey}\nquorum none\n`);
    const note = signNote(text, [parseSignerKey(OTHER_LOG.signerKey)]);
    expect(code(note, otherPolicy)).toBe('POLICY_ORIGIN_MISMATCH');
  });

  it('rejects the note when a known witness signature fails', () => {
    const note = cosign(logSigned, X);
    // Flip one character of X2's signature.
    const lines = note.split('\n');
    const i = lines.findIndex((l) => l.startsWith('— x2.example '));
    const line = lines[i] ?? '';
    lines[i] = line.slice(0, -6) + (line.at(-6) === 'A' ? 'B' : 'A') + line.slice(-5);
    expect(code(lines.join('\n'))).toBe('NOTE_SIGNATURE_INVALID');
  });

  it('rejects a modified checkpoint body', () => {
    const note = cosign(logSigned, X).replace('\n10\n', '\n11\n');
    expect(code(note)).toBe('NOTE_SIGNATURE_INVALID');
  });

  it('accepts logs known from context with a policy that lists none', () => {
    const none = parsePolicy('quorum none\n');
    expect(code(logSigned, none)).toBe('POLICY_NO_LOG_SIGNATURE');
    const extraLogs = [parseVerifierKey(LOG.verifierKey)];
    expect(verifyCheckpointWithPolicy(logSigned, none, { extraLogs }).cosigners).toEqual([]);
  });
});
