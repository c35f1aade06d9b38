import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint } from '../src/checkpoint.js';
import {
  collectCosignatures,
  cosignCheckpoint,
  cosignatureMessage,
  cosignatureSigner,
  cosignatureTimestamp,
  generateCosignerKey,
  parseCosignatureVerifierKey,
  parseCosignerKey,
  verifyCosignature,
} from '../src/cosignature.js';
import {
  type NoteVerifier,
  formatVerifierKey,
  generateSignerKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../src/note.js';
import { codeOf } from './codes.js';

// c2sp.org/tlog-cosignature, the example at the top of the specification, verbatim.
const SPEC_NOTE = `example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==
`;
const SPEC_TEXT = `example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
`;
// The signed message the specification shows for that checkpoint.
const SPEC_MESSAGE = `cosignature/v1
time 1679315147
example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
`;

function vector(file: string): unknown {
  const url = new URL(`../testdata/note/${file}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8'));
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const u64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

const SEED = Buffer.alloc(32, 0x42);
const WITNESS = 'witness.example/w1';
const cosigner = generateCosignerKey(WITNESS, SEED);
const cosigVerifier = parseCosignatureVerifierKey(cosigner.verifierKey);
const log = generateSignerKey('example.com/log', Buffer.alloc(32, 0x01));
const logSigner = parseSignerKey(log.signerKey);
const logVerifier = parseVerifierKey(log.verifierKey);
const TEXT = formatCheckpoint({
  origin: 'example.com/log',
  size: 1234n,
  rootHash: new Uint8Array(32).fill(0xab),
  extensions: [],
});
const TS = 1_700_000_000n;

/** The signature bytes after the key ID of a signature line. */
function payloadOf(line: string): Buffer {
  return Buffer.from(line.trim().split(' ')[2] ?? '', 'base64').subarray(4);
}

describe('the specification example', () => {
  const witnessLine = SPEC_NOTE.split('\n').find((l) => l.includes('witness.example.com')) ?? '';
  const blob = Buffer.from(witnessLine.split(' ')[2] ?? '', 'base64');

  it('frames the witness signature as key ID, timestamp and a 64-byte signature', () => {
    expect(blob).toHaveLength(4 + 8 + 64);
    expect(cosignatureTimestamp(blob.subarray(4))).toBe(1679315147n);
  });

  it('builds exactly the signed message the specification shows', () => {
    expect(Buffer.from(cosignatureMessage(SPEC_TEXT, 1679315147n)).toString('utf8')).toBe(
      SPEC_MESSAGE,
    );
  });

  it('opens with both signature lines parsed (its keys are not published)', () => {
    const seen: Uint8Array[] = [];
    const fake: NoteVerifier = {
      name: 'witness.example.com/w1',
      keyId: blob.readUInt32BE(0),
      verify: (_m, s) => (seen.push(s), true),
    };
    const opened = openNote(SPEC_NOTE, [fake]);
    expect(opened.text).toBe(SPEC_TEXT);
    expect(opened.unverified.map((s) => s.name)).toEqual(['example.com/behind-the-sofa']);
    expect(collectCosignatures(opened, [fake]).accepted).toEqual([
      { name: 'witness.example.com/w1', keyId: blob.readUInt32BE(0), timestamp: 1679315147n },
    ]);
    expect(seen[0]).toHaveLength(72);
  });
});

describe('vectors from other implementations', () => {
  it('reads the timestamp of a transparency-dev cosignature', () => {
    const v = vector('tdev-cosignature-timestamp.json') as { signature: string; timestamp: string };
    const blob = Buffer.from(v.signature, 'base64');
    expect(cosignatureTimestamp(blob.subarray(4))).toBe(BigInt(v.timestamp));
  });

  it('refuses to read a timestamp from a plain Ed25519 signature', () => {
    const v = vector('tdev-cosignature-wrong-type.json') as { signature: string };
    const blob = Buffer.from(v.signature, 'base64');
    expect(codeOf(() => cosignatureTimestamp(blob.subarray(4)))).toBe('COSIGNATURE_MALFORMED');
  });

  it('parses a transparency-dev cosignature verifier key', () => {
    const v = vector('tdev-vkey-cosignature.json') as { verifierKey: string; keyId: string };
    const parsed = parseCosignatureVerifierKey(v.verifierKey);
    expect(parsed.keyId.toString(16).padStart(8, '0')).toBe(v.keyId);
    expect(parsed.keyType).toBe(4);
    expect(codeOf(() => parseVerifierKey(v.verifierKey))).toBe('KEY_UNSUPPORTED_TYPE');
  });

  it('refuses a type 0x01 verifier key as a cosigner key', () => {
    const v = vector('tdev-vkey-plus-in-base64.json') as { verifierKey: string };
    expect(codeOf(() => parseCosignatureVerifierKey(v.verifierKey))).toBe('KEY_UNSUPPORTED_TYPE');
  });
});

describe('cosigning, checked by an independent path', () => {
  it('writes key ID, big-endian timestamp and an Ed25519 signature over the v1 message', () => {
    const line = cosignCheckpoint(TEXT, cosigner.signerKey, TS);
    expect(line.startsWith(`— ${WITNESS} `)).toBe(true);
    expect(line.endsWith('\n')).toBe(true);
    const blob = Buffer.from(line.trim().split(' ')[2] ?? '', 'base64');
    expect(blob).toHaveLength(76);

    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]);
    const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const pub = createPublicKey(priv);
    const raw = pub.export({ format: 'der', type: 'spki' }).subarray(-32);
    const id = createHash('sha256')
      .update(Buffer.concat([Buffer.from(WITNESS), Buffer.of(0x0a, 0x04), raw]))
      .digest()
      .subarray(0, 4);
    expect(blob.subarray(0, 4)).toEqual(id);
    expect(blob.readBigUInt64BE(4)).toBe(TS);
    const message = Buffer.from(`cosignature/v1\ntime ${TS.toString()}\n${TEXT}`, 'utf8');
    expect(cryptoVerify(null, message, pub, blob.subarray(12))).toBe(true);
    // Ed25519 is deterministic: the very bytes node:crypto would produce.
    expect(blob.subarray(12)).toEqual(cryptoSign(null, message, priv));
    expect(cosigner.verifierKey).toBe(
      `${WITNESS}+${id.toString('hex')}+${b64(Buffer.concat([Buffer.of(4), raw]))}`,
    );
  });

  it('adds to a log-signed checkpoint; both verify with their verifiers', () => {
    const note = signNote(TEXT, [logSigner]) + cosignCheckpoint(TEXT, cosigner.signerKey, TS);
    const opened = openNote(note, [logVerifier, cosigVerifier]);
    expect(opened.verified.map((s) => s.name)).toEqual(['example.com/log', WITNESS]);
    expect(collectCosignatures(opened, [cosigVerifier])).toEqual({
      accepted: [{ name: WITNESS, keyId: cosigVerifier.keyId, timestamp: TS }],
      futureDated: [],
    });
    // The log verifier alone ignores the cosignature; the cosigner alone ignores the log.
    expect(openNote(note, [logVerifier]).unverified.map((s) => s.name)).toEqual([WITNESS]);
    expect(openNote(note, [cosigVerifier]).unverified.map((s) => s.name)).toEqual([
      'example.com/log',
    ]);
  });

  it('works as a NoteSigner with an injected clock', () => {
    let calls = 0;
    const clock = (): number => (calls++, 1_700_000_123);
    const note = signNote(TEXT, [logSigner, cosignatureSigner(cosigner.signerKey, clock)]);
    const opened = openNote(note, [logVerifier, cosigVerifier]);
    expect(opened.verified).toHaveLength(2);
    expect(calls).toBe(1);
    expect(collectCosignatures(opened, [cosigVerifier]).accepted[0]?.timestamp).toBe(
      1_700_000_123n,
    );
  });

  it('covers extension lines', () => {
    const withExt = `${TEXT}ext\n`;
    const note = signNote(withExt, [logSigner]) + cosignCheckpoint(withExt, cosigner.signerKey, TS);
    expect(openNote(note, [cosigVerifier]).verified).toHaveLength(1);
    const tampered = note.replace('\next\n', '\nexT\n');
    expect(codeOf(() => openNote(tampered, [cosigVerifier]))).toBe('NOTE_SIGNATURE_INVALID');
  });
});

describe('rejections', () => {
  const line = cosignCheckpoint(TEXT, cosigner.signerKey, TS);
  const payload = payloadOf(line);
  const idBytes = Buffer.from(line.trim().split(' ')[2] ?? '', 'base64').subarray(0, 4);
  const withPayload = (p: Uint8Array): string =>
    `${TEXT}\n— ${WITNESS} ${b64(Buffer.concat([idBytes, p]))}\n`;

  it('a changed timestamp', () => {
    const changed = Buffer.concat([u64(TS + 1n), payload.subarray(8)]);
    expect(codeOf(() => openNote(withPayload(changed), [cosigVerifier]))).toBe(
      'NOTE_SIGNATURE_INVALID',
    );
    expect(
      codeOf(() => {
        verifyCosignature(TEXT, changed, cosigVerifier);
      }),
    ).toBe('COSIGNATURE_INVALID');
    verifyCosignature(TEXT, payload, cosigVerifier);
  });

  it('a tampered body', () => {
    const tampered = TEXT.replace('\n1234\n', '\n1235\n');
    expect(codeOf(() => openNote(`${tampered}\n${line}`, [cosigVerifier]))).toBe(
      'NOTE_SIGNATURE_INVALID',
    );
    expect(
      codeOf(() => {
        verifyCosignature(tampered, payload, cosigVerifier);
      }),
    ).toBe('COSIGNATURE_INVALID');
  });

  it('a truncated payload', () => {
    const noTimestamp = payload.subarray(8);
    expect(codeOf(() => openNote(withPayload(noTimestamp), [cosigVerifier]))).toBe(
      'NOTE_SIGNATURE_INVALID',
    );
    expect(codeOf(() => openNote(withPayload(payload.subarray(0, 71)), [cosigVerifier]))).toBe(
      'NOTE_SIGNATURE_INVALID',
    );
    expect(
      codeOf(() => {
        verifyCosignature(TEXT, payload.subarray(0, 71), cosigVerifier);
      }),
    ).toBe('COSIGNATURE_MALFORMED');
    expect(codeOf(() => cosignatureTimestamp(new Uint8Array(73)))).toBe('COSIGNATURE_MALFORMED');
  });

  it('the wrong key type: a plain Ed25519 signature by the same key is not a cosignature', () => {
    const plain = parseSignerKey(generateSignerKey(WITNESS, SEED).signerKey);
    const note = signNote(TEXT, [plain]);
    // Different type byte, different key ID: the cosigner verifier does not even match it.
    expect(codeOf(() => openNote(note, [cosigVerifier]))).toBe('NOTE_NO_VERIFIED_SIGNATURE');
    // Forced under the cosigner's key ID, the bytes do not verify as a cosignature.
    const forced = withPayload(payloadOf(note.slice(TEXT.length + 1)));
    expect(codeOf(() => openNote(forced, [cosigVerifier]))).toBe('NOTE_SIGNATURE_INVALID');
    // And a cosignature does not verify as a plain note signature of the same key.
    const asPlain: NoteVerifier = {
      ...parseVerifierKey(generateSignerKey(WITNESS, SEED).verifierKey),
      keyId: cosigVerifier.keyId,
    };
    expect(codeOf(() => openNote(`${TEXT}\n${line}`, [asPlain]))).toBe('NOTE_SIGNATURE_INVALID');
  });

  it('a timestamp above 2^63 - 1, even with a valid signature over it', () => {
    const ts = 1n << 63n;
    const priv = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]),
      format: 'der',
      type: 'pkcs8',
    });
    const sig = cryptoSign(
      null,
      Buffer.from(`cosignature/v1\ntime ${ts.toString()}\n${TEXT}`),
      priv,
    );
    const p = Buffer.concat([u64(ts), sig]);
    expect(codeOf(() => openNote(withPayload(p), [cosigVerifier]))).toBe('NOTE_SIGNATURE_INVALID');
    expect(codeOf(() => cosignatureTimestamp(p))).toBe('COSIGNATURE_TIMESTAMP_INVALID');
  });

  it('timestamps that cannot be written', () => {
    for (const ts of [-1n, 1n << 63n, -1, 1.5, 2 ** 53, Number.NaN]) {
      expect(codeOf(() => cosignCheckpoint(TEXT, cosigner.signerKey, ts))).toBe(
        'COSIGNATURE_TIMESTAMP_INVALID',
      );
    }
    expect(cosignCheckpoint(TEXT, cosigner.signerKey, (1n << 63n) - 1n)).toMatch(/^— /);
    expect(cosignCheckpoint(TEXT, cosigner.signerKey, 0)).toMatch(/^— /);
  });

  it('cosigning something that is not a checkpoint', () => {
    expect(codeOf(() => cosignCheckpoint('hello\n', cosigner.signerKey, TS))).toBe(
      'CHECKPOINT_MALFORMED',
    );
    expect(
      codeOf(() => signNote('hello\n', [cosignatureSigner(cosigner.signerKey, () => TS)])),
    ).toBe('CHECKPOINT_MALFORMED');
  });
});

describe('timestamps in the future', () => {
  const line = cosignCheckpoint(TEXT, cosigner.signerKey, TS);
  const payload = payloadOf(line);

  it('verifyCosignature refuses one beyond now plus the allowed skew', () => {
    expect(
      codeOf(() => {
        verifyCosignature(TEXT, payload, cosigVerifier, { now: TS - 1n });
      }),
    ).toBe('COSIGNATURE_FROM_FUTURE');
    verifyCosignature(TEXT, payload, cosigVerifier, { now: TS });
    verifyCosignature(TEXT, payload, cosigVerifier, { now: TS - 10n, maxFutureSkew: 10n });
  });

  it('collectCosignatures sets future-dated ones apart instead of failing', () => {
    const other = generateCosignerKey('witness.example/w2', Buffer.alloc(32, 0x43));
    const otherVerifier = parseCosignatureVerifierKey(other.verifierKey);
    const note =
      signNote(TEXT, [logSigner]) + line + cosignCheckpoint(TEXT, other.signerKey, TS + 100n);
    const opened = openNote(note, [logVerifier, cosigVerifier, otherVerifier]);
    const result = collectCosignatures(opened, [cosigVerifier, otherVerifier], {
      now: TS + 50n,
    });
    expect(result.accepted.map((c) => c.name)).toEqual([WITNESS]);
    expect(result.futureDated.map((c) => c.name)).toEqual(['witness.example/w2']);
    // Only cosigner verifiers that are asked for count.
    expect(collectCosignatures(opened, [otherVerifier]).accepted.map((c) => c.name)).toEqual([
      'witness.example/w2',
    ]);
  });
});

describe('cosigner keys', () => {
  it('round-trip with type 0x04 and carry the 0x04 key ID', () => {
    const parsed = parseCosignerKey(cosigner.signerKey);
    expect(parsed.verifierKey).toBe(cosigner.verifierKey);
    expect(parsed.keyId).toBe(cosigVerifier.keyId);
    expect(cosigner.signerKey.startsWith(`PRIVATE+KEY+${WITNESS}+`)).toBe(true);
    expect(Buffer.from(cosigner.signerKey.split('+').slice(4).join('+'), 'base64')[0]).toBe(4);
  });

  it('accept an ordinary note (0x01) signer key, signing under the 0x04 key ID', () => {
    const noteKey = generateSignerKey(WITNESS, SEED);
    const parsed = parseCosignerKey(noteKey.signerKey);
    expect(parsed.keyId).toBe(cosigVerifier.keyId);
    expect(parsed.keyId).not.toBe(parseVerifierKey(noteKey.verifierKey).keyId);
    expect(parsed.verifierKey).toBe(cosigner.verifierKey);
    const note = `${TEXT}\n${cosignCheckpoint(TEXT, parsed, TS)}`;
    expect(openNote(note, [cosigVerifier]).verified).toHaveLength(1);
  });

  it('refuse a 0x04 key whose hex ID was computed for type 0x01', () => {
    const wrongId = generateSignerKey(WITNESS, SEED).signerKey.split('+')[3] ?? '';
    const material = cosigner.signerKey.split('+').slice(4).join('+');
    expect(codeOf(() => parseCosignerKey(`PRIVATE+KEY+${WITNESS}+${wrongId}+${material}`))).toBe(
      'KEY_ID_MISMATCH',
    );
  });

  it('refuse other types and malformed keys', () => {
    const pk = cosigVerifier.publicKey;
    const type2 = `PRIVATE+KEY+${WITNESS}+00000000+${b64(Buffer.concat([Buffer.of(2), SEED]))}`;
    expect(codeOf(() => parseCosignerKey(type2))).toBe('KEY_UNSUPPORTED_TYPE');
    expect(codeOf(() => parseCosignerKey(cosigner.verifierKey))).toBe('KEY_MALFORMED');
    expect(codeOf(() => parseCosignatureVerifierKey(cosigner.signerKey))).toBe('KEY_MALFORMED');
    const vkeyMaterial = cosigner.verifierKey.split('+').slice(2).join('+');
    expect(codeOf(() => parseCosignatureVerifierKey(`${WITNESS}+00000000+${vkeyMaterial}`))).toBe(
      'KEY_ID_MISMATCH',
    );
    expect(codeOf(() => parseCosignatureVerifierKey(formatVerifierKey(WITNESS, 1, pk)))).toBe(
      'KEY_UNSUPPORTED_TYPE',
    );
    const short = formatVerifierKey(WITNESS, 4, pk.subarray(0, 31));
    expect(codeOf(() => parseCosignatureVerifierKey(short))).toBe('KEY_MALFORMED');
    expect(codeOf(() => generateCosignerKey('bad name'))).toBe('KEY_NAME_INVALID');
  });
});
