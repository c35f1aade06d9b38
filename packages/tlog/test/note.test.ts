import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  verify as cryptoVerify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../src/checkpoint.js';
import { TlogError } from '../src/errors.js';
import {
  type NoteSigner,
  type NoteVerifier,
  decodeBase64Strict,
  formatVerifierKey,
  generateSignerKey,
  keyIdFor,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../src/note.js';
import { codeOf } from './codes.js';

// c2sp.org/signed-note, the example at the top of the specification, verbatim.
const SPEC_NOTE = `Ognuno sta solo sul cuor della terra
trafitto da un raggio di sole:

ed è subito sera.

— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=
`;
const SPEC_TEXT = `Ognuno sta solo sul cuor della terra
trafitto da un raggio di sole:

ed è subito sera.
`;

interface SignVector {
  signerKey: string;
  verifierKey: string;
  text: string;
  note: string;
}
interface TwoSignersVector {
  verifierKeys: [string, string];
  keyIds: [string, string];
  text: string;
  note: string;
}
interface KeyVector {
  verifierKey: string;
  keyType: number;
  keyId: string;
}

function vector(file: string): unknown {
  const url = new URL(`../testdata/note/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8'));
}

const GO = vector('go-sign-peterneumann.json') as SignVector;
const GO2 = vector('go-open-two-signers.json') as TwoSignersVector;
const PLUS_KEY = vector('tdev-vkey-plus-in-base64.json') as KeyVector;
const peter = parseVerifierKey(GO.verifierKey);
const peterLine = GO.note.slice(GO.text.length + 1);

function errorOf(f: () => unknown): TlogError {
  try {
    f();
  } catch (err) {
    if (err instanceof TlogError) return err;
    throw err;
  }
  throw new Error('expected a TlogError, got a result');
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

describe('the specification example', () => {
  const blob = Buffer.from(SPEC_NOTE.split(' ').at(-1)?.trim() ?? '', 'base64');
  const specKeyId = blob.readUInt32BE(0);

  it('is refused without a known key, listing the unknown signer', () => {
    // The spec publishes no verifier key for its example, so only structure can be checked.
    const other = parseVerifierKey(generateSignerKey('quasimodo.example/salvatore').verifierKey);
    const err = errorOf(() => openNote(SPEC_NOTE, [other]));
    expect(err.code).toBe('NOTE_NO_VERIFIED_SIGNATURE');
    expect(err.evidence?.['unverified']).toEqual([
      { name: 'quasimodo.example/salvatore', keyId: specKeyId.toString(16).padStart(8, '0') },
    ]);
    // The text ends at the last blank line, so the poem keeps its own blank line.
    expect(err.evidence?.['text']).toBe(SPEC_TEXT);
  });

  it('hands the known key exactly the text bytes and the 64 signature bytes', () => {
    const seen: { message: Uint8Array; signature: Uint8Array }[] = [];
    const fake: NoteVerifier = {
      name: 'quasimodo.example/salvatore',
      keyId: specKeyId,
      verify: (message, signature) => (seen.push({ message, signature }), true),
    };
    const opened = openNote(SPEC_NOTE, [fake]);
    expect(opened.text).toBe(SPEC_TEXT);
    expect(Buffer.from(seen[0]?.message ?? []).toString('utf8')).toBe(SPEC_TEXT);
    expect(Buffer.from(seen[0]?.signature ?? [])).toEqual(blob.subarray(4));
    expect(opened.verified).toHaveLength(1);
  });

  it('is rejected when that known key says the signature is bad', () => {
    const refusing: NoteVerifier = {
      name: 'quasimodo.example/salvatore',
      keyId: specKeyId,
      verify: () => false,
    };
    expect(codeOf(() => openNote(SPEC_NOTE, [refusing]))).toBe('NOTE_SIGNATURE_INVALID');
  });
});

describe('vectors from other implementations', () => {
  it('signs byte for byte like golang.org/x/mod (Ed25519 is deterministic)', () => {
    const signer = parseSignerKey(GO.signerKey);
    expect(signer.verifierKey).toBe(GO.verifierKey);
    expect(signer.keyId).toBe(0xc74f20a3);
    expect(signNote(GO.text, [signer])).toBe(GO.note);
  });

  it('opens the Go note from a string and from bytes', () => {
    for (const input of [GO.note, new TextEncoder().encode(GO.note)]) {
      const opened = openNote(input, [peter]);
      expect(opened.text).toBe(GO.text);
      expect(opened.verified.map((s) => [s.name, s.keyId])).toEqual([['PeterNeumann', 0xc74f20a3]]);
      expect(opened.unverified).toEqual([]);
    }
  });

  it('keeps the signature of a key not given as unverified', () => {
    const peterKey = parseVerifierKey(GO2.verifierKeys[0]);
    const enochKey = parseVerifierKey(GO2.verifierKeys[1]);
    const both = openNote(GO2.note, [peterKey, enochKey]);
    expect(both.verified.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    const one = openNote(GO2.note, [enochKey]);
    expect(one.verified.map((s) => s.name)).toEqual(['EnochRoot']);
    expect(one.unverified.map((s) => [s.name, s.keyId.toString(16)])).toEqual([
      ['PeterNeumann', GO2.keyIds[0]],
    ]);
    const none = errorOf(() => openNote(GO2.note, []));
    expect(none.code).toBe('NOTE_NO_VERIFIED_SIGNATURE');
    expect(none.evidence?.['unverified']).toEqual([
      { name: 'PeterNeumann', keyId: GO2.keyIds[0] },
      { name: 'EnochRoot', keyId: GO2.keyIds[1] },
    ]);
  });

  it('splits a verifier key only at the first two +', () => {
    const v = parseVerifierKey(PLUS_KEY.verifierKey);
    expect(v.name).toBe('TEST');
    expect(v.keyType).toBe(PLUS_KEY.keyType);
    expect(v.keyId.toString(16)).toBe(PLUS_KEY.keyId);
    expect(formatVerifierKey(v.name, v.keyType, v.publicKey)).toBe(PLUS_KEY.verifierKey);
  });

  it('computes the Go key ID and verifier key from the raw public key', () => {
    expect(keyIdFor('PeterNeumann', 1, peter.publicKey)).toBe(0xc74f20a3);
    expect(formatVerifierKey('PeterNeumann', 1, peter.publicKey)).toBe(GO.verifierKey);
  });
});

describe('signing, checked by an independent path', () => {
  it('produces lines whose key ID and Ed25519 signature check out with node:crypto alone', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    const seed = Buffer.from(jwk.d ?? '', 'base64url');
    const raw = Buffer.from(jwk.x ?? '', 'base64url');
    const name = 'example.com/indep';
    const id = createHash('sha256')
      .update(Buffer.concat([Buffer.from(name), Buffer.of(0x0a, 0x01), raw]))
      .digest()
      .subarray(0, 4);
    const skey = `PRIVATE+KEY+${name}+${id.toString('hex')}+${b64(Buffer.concat([Buffer.of(1), seed]))}`;
    const vkey = `${name}+${id.toString('hex')}+${b64(Buffer.concat([Buffer.of(1), raw]))}`;
    expect(generateSignerKey(name, seed)).toEqual({ signerKey: skey, verifierKey: vkey });

    const text = 'a text\nwith two lines, ünïcödé and a final newline\n';
    const note = signNote(text, [parseSignerKey(skey)]);
    expect(note.startsWith(`${text}\n— ${name} `)).toBe(true);
    expect(note.endsWith('\n')).toBe(true);
    const sigBlob = Buffer.from(
      note
        .slice(text.length + 1)
        .split(' ')[2]
        ?.trim() ?? '',
      'base64',
    );
    expect(sigBlob).toHaveLength(68);
    expect(sigBlob.subarray(0, 4)).toEqual(id);
    expect(cryptoVerify(null, Buffer.from(text, 'utf8'), publicKey, sigBlob.subarray(4))).toBe(
      true,
    );
    expect(openNote(note, [parseVerifierKey(vkey)]).text).toBe(text);
  });

  it('signs with several keys, each verifiable on its own', () => {
    const a = generateSignerKey('a.example');
    const b = generateSignerKey('b.example');
    const note = signNote('x\n', [parseSignerKey(a.signerKey), parseSignerKey(b.signerKey)]);
    expect(openNote(note, [parseVerifierKey(b.verifierKey)]).verified[0]?.name).toBe('b.example');
    expect(
      openNote(note, [parseVerifierKey(a.verifierKey), parseVerifierKey(b.verifierKey)]).verified,
    ).toHaveLength(2);
  });

  it('keeps a leading byte order mark as part of the signed text', () => {
    const k = generateSignerKey('bom.example');
    const text = '\uFEFFbom\n';
    const bytes = new TextEncoder().encode(signNote(text, [parseSignerKey(k.signerKey)]));
    expect(bytes.subarray(0, 3)).toEqual(Uint8Array.of(0xef, 0xbb, 0xbf));
    expect(openNote(bytes, [parseVerifierKey(k.verifierKey)]).text).toBe(text);
  });

  it('allows DEL and other non-ASCII-control characters (only those below U+0020 are banned)', () => {
    const k = generateSignerKey('del.example');
    const text = 'del \u007f, nel \u0085, nbsp \u00a0\n';
    const note = signNote(text, [parseSignerKey(k.signerKey)]);
    expect(openNote(note, [parseVerifierKey(k.verifierKey)]).text).toBe(text);
  });

  it('refuses texts and signers that could not make an openable note', () => {
    const s = parseSignerKey(GO.signerKey);
    expect(codeOf(() => signNote('', [s]))).toBe('NOTE_MALFORMED');
    expect(codeOf(() => signNote('no newline', [s]))).toBe('NOTE_MALFORMED');
    expect(codeOf(() => signNote('tab\there\n', [s]))).toBe('NOTE_MALFORMED');
    expect(codeOf(() => signNote('crlf\r\n', [s]))).toBe('NOTE_MALFORMED');
    expect(codeOf(() => signNote('lone \uD800\n', [s]))).toBe('NOTE_MALFORMED');
    expect(codeOf(() => signNote('x\n', []))).toBe('NOTE_SIGNER_INVALID');
    expect(codeOf(() => signNote('x\n', [s, s]))).toBe('NOTE_SIGNER_INVALID');
    const badName: NoteSigner = { name: 'bad name', keyId: 1, sign: () => new Uint8Array(64) };
    expect(codeOf(() => signNote('x\n', [badName]))).toBe('NOTE_SIGNER_INVALID');
    const badId: NoteSigner = { name: 'ok', keyId: 2 ** 32, sign: () => new Uint8Array(64) };
    expect(codeOf(() => signNote('x\n', [badId]))).toBe('NOTE_SIGNER_INVALID');
    const empty: NoteSigner = { name: 'ok', keyId: 1, sign: () => new Uint8Array(0) };
    expect(codeOf(() => signNote('x\n', [empty]))).toBe('NOTE_SIGNER_INVALID');
  });
});

describe('openNote refuses malformed notes', () => {
  const text = GO.text;
  const sigB64 = peterLine.slice('— PeterNeumann '.length, -1);
  const cases: [string, string | Uint8Array][] = [
    ['text only', text],
    ['blank line but no signatures', `${text}\n`],
    ['missing blank line', `${text}${peterLine}`],
    ['no final newline', `${text}\n${peterLine.slice(0, -1)}`],
    ['a line after the signatures', `${text}\n${peterLine}Unexpected line.\n`],
    ['a blank line at the end', `${text}\n${peterLine}\n`],
    ['control character', `\u0001${text}\n${peterLine}`],
    ['NUL', `${text.slice(0, 5)}\u0000${text.slice(5)}\n${peterLine}`],
    ['tab', `\t${text}\n${peterLine}`],
    ['unit separator U+001F', `${text}\u001f\n${peterLine}`],
    ['CR line endings', `${text.replaceAll('\n', '\r\n')}\r\n${peterLine.replace('\n', '\r\n')}`],
    ['CR in the signature line', `${text}\n${peterLine.slice(0, -1)}\r\n`],
    ['lone surrogate in a string', `\uDC00${text}\n${peterLine}`],
    ['invalid UTF-8 byte', Buffer.concat([Buffer.of(0xff), Buffer.from(`${text}\n${peterLine}`)])],
    [
      'overlong UTF-8',
      Buffer.concat([Buffer.of(0xc0, 0xaf), Buffer.from(`${text}\n${peterLine}`)]),
    ],
    [
      'UTF-8 surrogate',
      Buffer.concat([Buffer.of(0xed, 0xa0, 0x80), Buffer.from(`\n\n${peterLine}`)]),
    ],
    [
      'truncated UTF-8',
      Buffer.concat([Buffer.from(`${text}\n${peterLine}`), Buffer.of(0xe2, 0x80)]),
    ],
    ['hyphen instead of em dash', `${text}\n- PeterNeumann ${sigB64}\n`],
    ['en dash instead of em dash', `${text}\n\u2013 PeterNeumann ${sigB64}\n`],
    ['no space after the em dash', `${text}\n—PeterNeumann ${sigB64}\n`],
    ['two spaces after the em dash', `${text}\n—  PeterNeumann ${sigB64}\n`],
    ['no signature after the name', `${text}\n— PeterNeumann\n`],
    ['empty signature', `${text}\n— PeterNeumann \n`],
    ['name with a space', `${text}\n— Bad Name ${sigB64}\n`],
    ['name with +', `${text}\n— Peter+Neumann ${sigB64}\n`],
    ['name with a Unicode space', `${text}\n— Peter\u3000Neumann ${sigB64}\n`],
    ['bad base64 character', `${text}\n— PeterNeumann ${sigB64.replace('/', '!')}\n`],
    ['URL-safe base64', `${text}\n— PeterNeumann ${sigB64.replaceAll('/', '_')}\n`],
    ['unpadded base64', `${text}\n— PeterNeumann ${sigB64.replace('=', '')}\n`],
    [
      'non-canonical base64 padding bits',
      `${text}\n— PeterNeumann ${sigB64.replace('M=', 'N=')}\n`,
    ],
    ['trailing space', `${text}\n— PeterNeumann ${sigB64} \n`],
    ['key ID only', `${text}\n— PeterNeumann ${b64(Buffer.of(0xc7, 0x4f, 0x20, 0xa3))}\n`],
    ['three bytes', `${text}\n— PeterNeumann ${b64(Buffer.of(1, 2, 3))}\n`],
  ];
  for (const [name, input] of cases) {
    it(name, () => {
      expect(codeOf(() => openNote(input, [peter]))).toBe('NOTE_MALFORMED');
    });
  }

  it('still opens the unmangled note (the cases above differ only in the mangling)', () => {
    expect(openNote(`${text}\n${peterLine}`, [peter]).text).toBe(text);
  });
});

describe('openNote signature rules', () => {
  const text = GO.text;

  it('rejects the note when a known key signature fails', () => {
    const blob = Buffer.from(peterLine.slice('— PeterNeumann '.length, -1), 'base64');
    blob[10] = (blob[10] ?? 0) ^ 1;
    const bad = `${text}\n— PeterNeumann ${b64(blob)}\n`;
    const err = errorOf(() => openNote(bad, [peter]));
    expect(err.code).toBe('NOTE_SIGNATURE_INVALID');
    expect(err.evidence?.['keyId']).toBe('c74f20a3');
  });

  it('rejects a tampered text', () => {
    const tampered = GO.note.replace('cryptography', 'cryptographY');
    expect(codeOf(() => openNote(tampered, [peter]))).toBe('NOTE_SIGNATURE_INVALID');
  });

  it('rejects a short signature from a known key', () => {
    const short = `${text}\n— PeterNeumann ${b64(Buffer.of(0xc7, 0x4f, 0x20, 0xa3, 0))}\n`;
    expect(codeOf(() => openNote(short, [peter]))).toBe('NOTE_SIGNATURE_INVALID');
  });

  it('ignores signatures sharing only the name or only the key ID with a known key', () => {
    const blob = Buffer.from(peterLine.slice('— PeterNeumann '.length, -1), 'base64');
    const otherId = Buffer.from(blob);
    otherId[0] = (otherId[0] ?? 0) ^ 0xff;
    const note = `${text}\n${peterLine}— PeterNeumann ${b64(otherId)}\n— PeterNeumann2 ${b64(blob)}\n`;
    const opened = openNote(note, [peter]);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unverified.map((s) => s.name)).toEqual(['PeterNeumann', 'PeterNeumann2']);
  });

  it('lists a key once even when its line repeats, and identical unknown lines once', () => {
    const other = generateSignerKey('other.example');
    const otherNote = signNote(text, [parseSignerKey(other.signerKey)]);
    const otherLine = otherNote.slice(text.length + 1);
    const opened = openNote(`${text}\n${peterLine}${otherLine}${peterLine}${otherLine}`, [peter]);
    expect(opened.verified).toHaveLength(1);
    expect(opened.unverified).toHaveLength(1);
  });

  it('verifies every line of a known key: a bad duplicate after a good one rejects the note', () => {
    const blob = Buffer.from(peterLine.slice('— PeterNeumann '.length, -1), 'base64');
    blob[40] = (blob[40] ?? 0) ^ 1;
    const note = `${text}\n${peterLine}— PeterNeumann ${b64(blob)}\n`;
    expect(codeOf(() => openNote(note, [peter]))).toBe('NOTE_SIGNATURE_INVALID');
  });

  it('refuses two different verifiers for the same name and key ID', () => {
    const again = parseVerifierKey(GO.verifierKey);
    expect(codeOf(() => openNote(GO.note, [peter, again]))).toBe('NOTE_VERIFIER_AMBIGUOUS');
    // The same verifier listed twice is not ambiguous.
    expect(openNote(GO.note, [peter, peter]).verified).toHaveLength(1);
  });

  it('fails when no verifiers are given', () => {
    expect(codeOf(() => openNote(GO.note, []))).toBe('NOTE_NO_VERIFIED_SIGNATURE');
  });
});

describe('openNote limits', () => {
  const text = GO.text;

  it('accepts 16 signatures with the lowest allowed cap', () => {
    const keys = Array.from({ length: 16 }, (_, i) => generateSignerKey(`k${String(i)}.example`));
    const note = signNote(
      text,
      keys.map((k) => parseSignerKey(k.signerKey)),
    );
    const opened = openNote(
      note,
      keys.map((k) => parseVerifierKey(k.verifierKey)),
      { maxSignatures: 16 },
    );
    expect(opened.verified).toHaveLength(16);
    expect(codeOf(() => openNote(`${note}${peterLine}`, [peter], { maxSignatures: 16 }))).toBe(
      'NOTE_TOO_MANY_SIGNATURES',
    );
  });

  it('caps signature lines at 100 by default, duplicates included', () => {
    expect(openNote(`${text}\n${peterLine.repeat(100)}`, [peter]).verified).toHaveLength(1);
    expect(codeOf(() => openNote(`${text}\n${peterLine.repeat(101)}`, [peter]))).toBe(
      'NOTE_TOO_MANY_SIGNATURES',
    );
    expect(
      openNote(`${text}\n${peterLine.repeat(101)}`, [peter], { maxSignatures: 200 }).verified,
    ).toHaveLength(1);
  });

  it('refuses a cap below 16 or a nonsensical size', () => {
    expect(codeOf(() => openNote(GO.note, [peter], { maxSignatures: 15 }))).toBe(
      'NOTE_LIMIT_INVALID',
    );
    expect(codeOf(() => openNote(GO.note, [peter], { maxSize: 0 }))).toBe('NOTE_LIMIT_INVALID');
    expect(codeOf(() => openNote(GO.note, [peter], { maxSize: 1.5 }))).toBe('NOTE_LIMIT_INVALID');
  });

  it('limits the size in UTF-8 bytes, 1 MiB by default', () => {
    const big = `${'a'.repeat(1024 * 1024)}\n\n${peterLine}`;
    expect(codeOf(() => openNote(big, [peter]))).toBe('NOTE_TOO_LARGE');
    expect(codeOf(() => openNote(Buffer.from(big), [peter]))).toBe('NOTE_TOO_LARGE');
    const size = Buffer.byteLength(GO.note);
    expect(openNote(GO.note, [peter], { maxSize: size }).text).toBe(text);
    expect(codeOf(() => openNote(GO.note, [peter], { maxSize: size - 1 }))).toBe('NOTE_TOO_LARGE');
    // 'é' is one UTF-16 unit but two UTF-8 bytes.
    const accented = `${'é'.repeat(600)}\n\n${peterLine}`;
    expect(codeOf(() => openNote(accented, [peter], { maxSize: 1000 }))).toBe('NOTE_TOO_LARGE');
  });

  it('fails fast on large hostile inputs', () => {
    const start = performance.now();
    const manyLines = `${text}\n${'— a AAAAAAAA\n'.repeat(60_000)}`;
    expect(codeOf(() => openNote(manyLines, [peter]))).toBe('NOTE_TOO_MANY_SIGNATURES');
    const noBlank = 'a\n'.repeat(400_000);
    expect(codeOf(() => openNote(noBlank, [peter]))).toBe('NOTE_MALFORMED');
    const blanks = '\n'.repeat(1_000_000);
    expect(codeOf(() => openNote(blanks, [peter]))).toBe('NOTE_MALFORMED');
    const longB64 = `${text}\n— PeterNeumann ${'A'.repeat(900_001)}\n`;
    expect(codeOf(() => openNote(longB64, [peter]))).toBe('NOTE_MALFORMED');
    expect(performance.now() - start).toBeLessThan(5000);
  });
});

describe('parseVerifierKey', () => {
  const material = GO.verifierKey.split('+')[2] ?? '';

  it('parses the key and exposes its parts', () => {
    expect(peter.name).toBe('PeterNeumann');
    expect(peter.keyId).toBe(0xc74f20a3);
    expect(peter.keyType).toBe(1);
    expect(peter.publicKey).toHaveLength(32);
    expect(peter.text).toBe(GO.verifierKey);
  });

  const cases: [string, string, string][] = [
    ['empty string', '', 'KEY_MALFORMED'],
    ['name only', 'PeterNeumann', 'KEY_MALFORMED'],
    ['no material', 'PeterNeumann+c74f20a3', 'KEY_MALFORMED'],
    ['empty material', 'PeterNeumann+c74f20a3+', 'KEY_MALFORMED'],
    ['empty key ID', `PeterNeumann++${material}`, 'KEY_MALFORMED'],
    ['empty name', `+c74f20a3+${material}`, 'KEY_NAME_INVALID'],
    ['uppercase hex ID', `PeterNeumann+C74F20A3+${material}`, 'KEY_MALFORMED'],
    ['short hex ID', `PeterNeumann+c74f20a+${material}`, 'KEY_MALFORMED'],
    ['long hex ID', `PeterNeumann+0c74f20a3+${material}`, 'KEY_MALFORMED'],
    ['non-hex ID', `PeterNeumann+c74f20g3+${material}`, 'KEY_MALFORMED'],
    ['mismatched ID', `PeterNeumann+c74f20a4+${material}`, 'KEY_ID_MISMATCH'],
    ['ID of another name', `PeterNeuman+c74f20a3+${material}`, 'KEY_ID_MISMATCH'],
    ['name with a space', `Peter Neumann+c74f20a3+${material}`, 'KEY_NAME_INVALID'],
    ['name with a no-break space', `Peter\u00a0Neumann+c74f20a3+${material}`, 'KEY_NAME_INVALID'],
    ['name with a tab', `Peter\tNeumann+c74f20a3+${material}`, 'KEY_NAME_INVALID'],
    ['name with a + (read as name+id)', `Peter+Neumann+c74f20a3+${material}`, 'KEY_MALFORMED'],
    [
      'bad base64',
      'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!',
      'KEY_MALFORMED',
    ],
    [
      'unpadded base64',
      'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T',
      'KEY_MALFORMED',
    ],
    // golang.org/x/mod sumdb/note TestNewVerifier: wrong length and unknown type, IDs adjusted.
    [
      'wrong key length',
      'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==',
      'KEY_MALFORMED',
    ],
    [
      'wrong type byte',
      'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
      'KEY_UNSUPPORTED_TYPE',
    ],
  ];
  for (const [name, key, code] of cases) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseVerifierKey(key))).toBe(code);
    });
  }

  it('refuses a cosignature (0x04) key', () => {
    const pk = peter.publicKey;
    expect(codeOf(() => parseVerifierKey(formatVerifierKey('w.example', 4, pk)))).toBe(
      'KEY_UNSUPPORTED_TYPE',
    );
  });

  it('refuses every substring and every single-character change of a valid key', () => {
    const k = GO.verifierKey;
    for (let i = 0; i <= k.length; i++) {
      for (let j = i + 1; j <= k.length; j++) {
        if (i === 0 && j === k.length) continue;
        expect(() => parseVerifierKey(k.slice(i, j))).toThrow(TlogError);
      }
    }
    for (let i = 0; i < k.length; i++) {
      const changed = k.slice(0, i) + String.fromCharCode(k.charCodeAt(i) + 1) + k.slice(i + 1);
      expect(() => parseVerifierKey(changed)).toThrow(TlogError);
    }
  });
});

describe('parseSignerKey and generateSignerKey', () => {
  const material = GO.signerKey.split('+').slice(4).join('+');

  it('round-trips generated keys', () => {
    const { signerKey, verifierKey } = generateSignerKey('example.com/log');
    const signer = parseSignerKey(signerKey);
    expect(signer.verifierKey).toBe(verifierKey);
    expect(signer.keyId).toBe(parseVerifierKey(verifierKey).keyId);
    expect(generateSignerKey('example.com/log').signerKey).not.toBe(signerKey);
  });

  const cases: [string, string, string][] = [
    ['a verifier key', GO.verifierKey, 'KEY_MALFORMED'],
    ['lowercase prefix', GO.signerKey.replace('PRIVATE+KEY', 'private+key'), 'KEY_MALFORMED'],
    ['missing KEY', GO.signerKey.replace('PRIVATE+KEY+', 'PRIVATE+'), 'KEY_MALFORMED'],
    ['empty name', `PRIVATE+KEY++c74f20a3+${material}`, 'KEY_NAME_INVALID'],
    ['name with a space', `PRIVATE+KEY+Peter Neumann+c74f20a3+${material}`, 'KEY_NAME_INVALID'],
    ['bad hex ID', `PRIVATE+KEY+PeterNeumann+c74f20aZ+${material}`, 'KEY_MALFORMED'],
    ['mismatched ID', `PRIVATE+KEY+PeterNeumann+c74f20a4+${material}`, 'KEY_ID_MISMATCH'],
    ['empty material', 'PRIVATE+KEY+PeterNeumann+c74f20a3+', 'KEY_MALFORMED'],
    [
      'short seed',
      `PRIVATE+KEY+PeterNeumann+c74f20a3+${b64(Buffer.alloc(32, 1))}`,
      'KEY_MALFORMED',
    ],
    [
      'wrong type',
      `PRIVATE+KEY+PeterNeumann+c74f20a3+${b64(Buffer.alloc(33, 2))}`,
      'KEY_UNSUPPORTED_TYPE',
    ],
  ];
  for (const [name, key, code] of cases) {
    it(`refuses ${name}`, () => {
      expect(codeOf(() => parseSignerKey(key))).toBe(code);
    });
  }

  it('refuses a cosigner (0x04) key', () => {
    const seed = Buffer.alloc(32, 7);
    const pk = parseVerifierKey(generateSignerKey('w.example', seed).verifierKey).publicKey;
    const id = keyIdFor('w.example', 4, pk).toString(16).padStart(8, '0');
    const key = `PRIVATE+KEY+w.example+${id}+${b64(Buffer.concat([Buffer.of(4), seed]))}`;
    expect(codeOf(() => parseSignerKey(key))).toBe('KEY_UNSUPPORTED_TYPE');
  });

  it('never puts the secret in an error', () => {
    for (const key of [
      `PRIVATE+KEY+PeterNeumann+c74f20a4+${material}`,
      `PRIVATE+KEY+Peter Neumann+c74f20a3+${material}`,
      `PRIVATE+KEY+PeterNeumann+c74f20aZ+${material}`,
      `PRIVATE+KEY+PeterNeumann+c74f20a3+${material}x`,
      GO.signerKey.slice(0, -1),
    ]) {
      const err = errorOf(() => parseSignerKey(key));
      const seen = `${err.message} ${JSON.stringify(err.evidence ?? {})}`;
      expect(seen).not.toContain(material.slice(4, 20));
    }
  });

  it('refuses every substring and every single-character change of a valid key', () => {
    const k = GO.signerKey;
    for (let i = 0; i <= k.length; i++) {
      for (let j = i + 1; j <= k.length; j++) {
        if (i === 0 && j === k.length) continue;
        expect(() => parseSignerKey(k.slice(i, j))).toThrow(TlogError);
      }
    }
    for (let i = 0; i < k.length; i++) {
      const changed = k.slice(0, i) + String.fromCharCode(k.charCodeAt(i) + 1) + k.slice(i + 1);
      expect(() => parseSignerKey(changed)).toThrow(TlogError);
    }
  });

  it('refuses bad names and seeds when generating', () => {
    expect(codeOf(() => generateSignerKey(''))).toBe('KEY_NAME_INVALID');
    expect(codeOf(() => generateSignerKey('a+b'))).toBe('KEY_NAME_INVALID');
    expect(codeOf(() => generateSignerKey('a b'))).toBe('KEY_NAME_INVALID');
    expect(codeOf(() => generateSignerKey('a\u2028b'))).toBe('KEY_NAME_INVALID');
    expect(codeOf(() => generateSignerKey('ok', new Uint8Array(31)))).toBe('KEY_MALFORMED');
    expect(codeOf(() => formatVerifierKey('ok', 256, new Uint8Array(32)))).toBe(
      'KEY_UNSUPPORTED_TYPE',
    );
  });
});

describe('decodeBase64Strict', () => {
  it('accepts canonical padded base64 only', () => {
    expect(decodeBase64Strict('')).toEqual(new Uint8Array(0));
    expect(decodeBase64Strict('AQID')).toEqual(Uint8Array.of(1, 2, 3));
    expect(decodeBase64Strict('AQI=')).toEqual(Uint8Array.of(1, 2));
    expect(decodeBase64Strict('AQ==')).toEqual(Uint8Array.of(1));
    for (const bad of [
      'AQ',
      'AQ=',
      'AR==',
      'AQJ=',
      'A===',
      'AQ==AQ==',
      'AQ-_',
      ' AQID',
      'AQID\n',
    ]) {
      expect(decodeBase64Strict(bad)).toBeUndefined();
    }
  });
});

describe('parsers only ever throw TlogError', () => {
  const keyish = fc.string({
    unit: fc.constantFrom(
      '+',
      'P',
      'R',
      'I',
      'V',
      'A',
      'T',
      'E',
      'K',
      'Y',
      'a',
      '0',
      'f',
      '=',
      ' ',
      '/',
    ),
    maxLength: 80,
  });
  const noteish = fc.string({
    unit: fc.constantFrom('—', ' ', '\n', 'a', 'A', '=', '+', '/', '\r', '\u0000', 'é', '\uD800'),
    maxLength: 200,
  });
  const structuredKey = fc
    .tuple(
      fc.constantFrom('', 'PRIVATE+KEY+'),
      fc.string({ maxLength: 12 }),
      fc.stringMatching(/^[0-9a-f]{0,9}$/),
      fc.uint8Array({ maxLength: 40 }),
    )
    .map(([prefix, name, id, bytes]) => `${prefix}${name}+${id}+${b64(bytes)}`);
  const structuredNote = fc
    .tuple(
      fc.string({ maxLength: 40 }),
      fc.array(fc.tuple(fc.string({ maxLength: 10 }), fc.uint8Array({ maxLength: 80 })), {
        maxLength: 5,
      }),
    )
    .map(
      ([text, sigs]) =>
        `${text}\n\n${sigs.map(([name, bytes]) => `— ${name} ${b64(bytes)}\n`).join('')}`,
    );

  function onlyTlogErrors(f: () => unknown): void {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(TlogError);
    }
  }

  it('openNote', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), noteish, structuredNote), (s) => {
        onlyTlogErrors(() => openNote(s, [peter]));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyTlogErrors(() => openNote(bytes, [peter]));
      }),
      { numRuns: 300 },
    );
  });

  it('parseVerifierKey and parseSignerKey', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), keyish, structuredKey), (s) => {
        onlyTlogErrors(() => parseVerifierKey(s));
        onlyTlogErrors(() => parseSignerKey(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('parseCheckpoint', () => {
    const lineish = fc.string({
      unit: fc.constantFrom('\n', '0', '1', '9', '-', 'A', '=', 'x', ' ', '\r'),
      maxLength: 80,
    });
    fc.assert(
      fc.property(fc.oneof(fc.string(), lineish), (s) => {
        onlyTlogErrors(() => parseCheckpoint(s));
      }),
      { numRuns: 500 },
    );
  });
});

describe('independent key derivation', () => {
  it('derives the Go public key from the Go seed with node:crypto', () => {
    const seed = Buffer.from(GO.signerKey.split('+').slice(4).join('+'), 'base64').subarray(1);
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const spki = createPublicKey(
      createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
    ).export({
      format: 'der',
      type: 'spki',
    });
    expect(Buffer.from(peter.publicKey)).toEqual(spki.subarray(-32));
  });
});
