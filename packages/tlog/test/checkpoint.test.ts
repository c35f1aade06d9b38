import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
} from '../src/checkpoint.js';
import {
  type NoteVerifier,
  generateSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../src/note.js';
import { codeOf } from './codes.js';

// c2sp.org/tlog-checkpoint, the example at the top of the specification, verbatim.
const SPEC_NOTE = `example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
`;
const SPEC_TEXT = `example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
`;
const ROOT_B64 = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';

const cp = (lines: string[]): string => `${lines.join('\n')}\n`;

describe('the specification example', () => {
  it('parses', () => {
    const parsed = parseCheckpoint(SPEC_TEXT);
    expect(parsed.origin).toBe('example.com/behind-the-sofa');
    expect(parsed.size).toBe(20852163n);
    expect(Buffer.from(parsed.rootHash)).toEqual(Buffer.from(ROOT_B64, 'base64'));
    expect(parsed.rootHash).toHaveLength(32);
    expect(parsed.extensions).toEqual([]);
    expect(formatCheckpoint(parsed)).toBe(SPEC_TEXT);
  });

  it('is a note whose text is the checkpoint (its key is not published, so verify structure)', () => {
    const blob = Buffer.from(SPEC_NOTE.trim().split(' ').at(-1) ?? '', 'base64');
    expect(blob).toHaveLength(68);
    const accept: NoteVerifier = {
      name: 'example.com/behind-the-sofa',
      keyId: blob.readUInt32BE(0),
      verify: () => true,
    };
    const { checkpoint, note } = openCheckpoint(SPEC_NOTE, [accept]);
    expect(note.text).toBe(SPEC_TEXT);
    expect(checkpoint.size).toBe(20852163n);
    const stranger = parseVerifierKey(generateSignerKey('example.com/behind-the-sofa').verifierKey);
    expect(codeOf(() => openCheckpoint(SPEC_NOTE, [stranger]))).toBe('NOTE_NO_VERIFIED_SIGNATURE');
  });
});

describe('round trip', () => {
  it('keeps extension lines in order', () => {
    const text = cp(['example.com/log', '7', ROOT_B64, 'ext one', 'ext two — ünïcode']);
    const parsed = parseCheckpoint(text);
    expect(parsed.extensions).toEqual(['ext one', 'ext two — ünïcode']);
    expect(formatCheckpoint(parsed)).toBe(text);
  });

  it('handles the empty tree and the largest uint64 size', () => {
    for (const size of [0n, 1n, (1n << 64n) - 1n]) {
      const text = cp(['o', size.toString(), ROOT_B64]);
      expect(parseCheckpoint(text).size).toBe(size);
      expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
    }
  });

  it('holds for arbitrary checkpoints', () => {
    const line = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((s) => !/[\p{Cc}\p{Cs}]/u.test(s));
    const arb = fc.record({
      origin: line,
      size: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      rootHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      extensions: fc.array(line, { maxLength: 3 }),
    });
    fc.assert(
      fc.property(arb, (c: Checkpoint) => {
        const parsed = parseCheckpoint(formatCheckpoint(c));
        expect(parsed).toEqual(c);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseCheckpoint refuses', () => {
  const cases: [string, string, string][] = [
    ['an empty text', '', 'CHECKPOINT_MALFORMED'],
    ['no final newline', `o\n1\n${ROOT_B64}`, 'CHECKPOINT_MALFORMED'],
    ['one line', 'o\n', 'CHECKPOINT_MALFORMED'],
    ['two lines', 'o\n1\n', 'CHECKPOINT_MALFORMED'],
    ['an empty origin', cp(['', '1', ROOT_B64]), 'CHECKPOINT_MALFORMED'],
    ['a blank line before the root', cp(['o', '1', '', ROOT_B64]), 'CHECKPOINT_MALFORMED'],
    ['a trailing blank line', `${cp(['o', '1', ROOT_B64])}\n`, 'CHECKPOINT_MALFORMED'],
    ['an empty extension line', cp(['o', '1', ROOT_B64, 'x', '', 'y']), 'CHECKPOINT_MALFORMED'],
    ['CR line endings', `o\r\n1\r\n${ROOT_B64}\r\n`, 'CHECKPOINT_MALFORMED'],
    ['a control character', cp(['o\u0007', '1', ROOT_B64]), 'CHECKPOINT_MALFORMED'],
    ['a lone surrogate', cp(['o\uD800', '1', ROOT_B64]), 'CHECKPOINT_MALFORMED'],
    ['a missing size', cp(['o', '', ROOT_B64]), 'CHECKPOINT_MALFORMED'],
    ['a leading zero', cp(['o', '01', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['a double zero', cp(['o', '00', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['a negative size', cp(['o', '-1', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['a plus sign', cp(['o', '+1', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['2^64', cp(['o', '18446744073709551616', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['a huge size', cp(['o', '9'.repeat(100_000), ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['hex', cp(['o', '0x10', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['an exponent', cp(['o', '1e3', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['a decimal point', cp(['o', '1.0', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['spaces around the size', cp(['o', ' 5', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    ['non-ASCII digits', cp(['o', '\u0661\u0662', ROOT_B64]), 'CHECKPOINT_SIZE_INVALID'],
    [
      'a 31-byte root',
      cp(['o', '1', Buffer.alloc(31).toString('base64')]),
      'CHECKPOINT_ROOT_INVALID',
    ],
    [
      'a 33-byte root',
      cp(['o', '1', Buffer.alloc(33).toString('base64')]),
      'CHECKPOINT_ROOT_INVALID',
    ],
    ['an unpadded root', cp(['o', '1', ROOT_B64.slice(0, -1)]), 'CHECKPOINT_ROOT_INVALID'],
    ['a URL-safe root', cp(['o', '1', ROOT_B64.replace('/', '_')]), 'CHECKPOINT_ROOT_INVALID'],
    [
      'a root with a bad character',
      cp(['o', '1', ROOT_B64.replace('C', '!')]),
      'CHECKPOINT_ROOT_INVALID',
    ],
    // The last character 'I' carries two zero bits; 'J' sets one, a non-canonical encoding.
    [
      'non-canonical root base64',
      cp(['o', '1', ROOT_B64.replace('2I=', '2J=')]),
      'CHECKPOINT_ROOT_INVALID',
    ],
    ['a hex root', cp(['o', '1', 'ab'.repeat(32)]), 'CHECKPOINT_ROOT_INVALID'],
  ];
  for (const [name, text, code] of cases) {
    it(name, () => {
      expect(codeOf(() => parseCheckpoint(text))).toBe(code);
    });
  }
});

describe('formatCheckpoint refuses', () => {
  const good: Checkpoint = {
    origin: 'o',
    size: 1n,
    rootHash: new Uint8Array(32),
    extensions: [],
  };
  const cases: [string, Checkpoint, string][] = [
    ['an empty origin', { ...good, origin: '' }, 'CHECKPOINT_MALFORMED'],
    ['an origin with a newline', { ...good, origin: 'a\nb' }, 'CHECKPOINT_MALFORMED'],
    ['an origin with a control character', { ...good, origin: 'a\tb' }, 'CHECKPOINT_MALFORMED'],
    ['an empty extension', { ...good, extensions: [''] }, 'CHECKPOINT_MALFORMED'],
    ['an extension with a newline', { ...good, extensions: ['a\n'] }, 'CHECKPOINT_MALFORMED'],
    ['a negative size', { ...good, size: -1n }, 'CHECKPOINT_SIZE_INVALID'],
    ['a size of 2^64', { ...good, size: 1n << 64n }, 'CHECKPOINT_SIZE_INVALID'],
    ['a short root', { ...good, rootHash: new Uint8Array(31) }, 'CHECKPOINT_ROOT_INVALID'],
  ];
  for (const [name, c, code] of cases) {
    it(name, () => {
      expect(codeOf(() => formatCheckpoint(c))).toBe(code);
    });
  }
});

describe('openCheckpoint', () => {
  const log = generateSignerKey('example.com/log');
  const signer = parseSignerKey(log.signerKey);
  const verifier = parseVerifierKey(log.verifierKey);
  const text = formatCheckpoint({
    origin: 'example.com/log',
    size: 42n,
    rootHash: new Uint8Array(32).fill(9),
    extensions: ['ext'],
  });

  it('verifies then parses', () => {
    const { checkpoint, note } = openCheckpoint(signNote(text, [signer]), [verifier], {
      origin: 'example.com/log',
    });
    expect(checkpoint.size).toBe(42n);
    expect(checkpoint.extensions).toEqual(['ext']);
    expect(note.verified[0]?.name).toBe('example.com/log');
  });

  it('refuses a checkpoint from another origin', () => {
    expect(
      codeOf(() => openCheckpoint(signNote(text, [signer]), [verifier], { origin: 'other' })),
    ).toBe('CHECKPOINT_ORIGIN_MISMATCH');
  });

  it('refuses a signed note that is not a checkpoint', () => {
    const note = signNote('just\ntwo lines\n', [signer]);
    expect(openNote(note, [verifier]).text).toBe('just\ntwo lines\n');
    expect(codeOf(() => openCheckpoint(note, [verifier]))).toBe('CHECKPOINT_MALFORMED');
  });

  it('checks signatures before parsing', () => {
    const other = parseVerifierKey(generateSignerKey('example.com/other').verifierKey);
    expect(codeOf(() => openCheckpoint(signNote('bad\n', [signer]), [other]))).toBe(
      'NOTE_NO_VERIFIED_SIGNATURE',
    );
    const tampered = signNote(text, [signer]).replace('\n42\n', '\n43\n');
    expect(codeOf(() => openCheckpoint(tampered, [verifier]))).toBe('NOTE_SIGNATURE_INVALID');
  });
});
