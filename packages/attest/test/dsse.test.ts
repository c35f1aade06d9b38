import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Envelope,
  type EnvelopeVerifier,
  decodeBase64,
  pae,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
  verifyEnvelope,
} from '../src/dsse.js';
import { AttestError } from '../src/errors.js';
import { signingKeyFromSeed } from '../src/keys.js';
import { codeOf } from '../../errors/test/codes.js';
import { readVector } from './vectors.js';

interface SpecVector {
  payloadType: string;
  payloadUtf8: string;
  pae: string;
  ecdsaP256: { x: string; y: string };
  envelope: Envelope;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

const builder = signingKeyFromSeed(new Uint8Array(32).fill(1));
const rebuilder = signingKeyFromSeed(new Uint8Array(32).fill(2));
const stranger = signingKeyFromSeed(new Uint8Array(32).fill(7));

/** The spec's ECDSA P-256 key (coordinates in decimal) as an envelope verifier. */
function specVerifier(v: SpecVector): EnvelopeVerifier {
  const coordinate = (d: string): string =>
    Buffer.from(BigInt(d).toString(16).padStart(64, '0'), 'hex').toString('base64url');
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: coordinate(v.ecdsaP256.x), y: coordinate(v.ecdsaP256.y) },
    format: 'jwk',
  });
  return {
    verify: (message, signature) =>
      cryptoVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature),
  };
}

function toUrlSafe(s: string): string {
  return s.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

describe('DSSE PAE', () => {
  it('matches the specification test vector byte for byte', () => {
    const v = readVector('dsse/spec-hello-world.json') as SpecVector;
    const bytes = pae(v.payloadType, utf8(v.payloadUtf8));
    expect(Buffer.from(bytes).toString('latin1')).toBe(v.pae);
  });

  it('uses byte lengths, not character counts, and allows empty parts', () => {
    // "é" is two bytes in UTF-8; the body is raw bytes including NUL.
    expect(Buffer.from(pae('é', Uint8Array.of(0, 0xff))).toString('hex')).toBe(
      Buffer.concat([Buffer.from('DSSEv1 2 é 2 ', 'utf8'), Buffer.from([0, 0xff])]).toString('hex'),
    );
    expect(Buffer.from(pae('t', new Uint8Array())).toString()).toBe('DSSEv1 1 t 0 ');
    const long = new Uint8Array(1234);
    expect(Buffer.from(pae('t', long).subarray(0, 16)).toString()).toBe('DSSEv1 1 t 1234 ');
  });
});

describe('DSSE envelopes', () => {
  it('verifies the specification envelope with its ECDSA key', () => {
    const v = readVector('dsse/spec-hello-world.json') as SpecVector;
    const envelope = parseEnvelope(JSON.stringify(v.envelope));
    const out = verifyEnvelope(envelope, { keys: [specVerifier(v)] });
    expect(Buffer.from(out.payload).toString()).toBe(v.payloadUtf8);
    expect(out.payloadType).toBe(v.payloadType);
  });

  it('accepts the specification envelope in URL-safe base64, padded or not', () => {
    const v = readVector('dsse/spec-hello-world.json') as SpecVector;
    const [signature] = v.envelope.signatures;
    const urlSafe: Envelope = {
      ...v.envelope,
      payload: toUrlSafe(v.envelope.payload),
      signatures: [{ sig: toUrlSafe(signature!.sig) }],
    };
    expect(urlSafe.signatures[0]!.sig).toContain('-');
    expect(codeOf(() => verifyEnvelope(urlSafe, { keys: [specVerifier(v)] }))).toBe('accepted');
    // ...but not in strict mode, which takes only what signEnvelope writes.
    expect(
      codeOf(() => verifyEnvelope(urlSafe, { keys: [specVerifier(v)], strictBase64: true })),
    ).toBe('ENVELOPE_BASE64_INVALID');
  });

  it('round-trips with Ed25519 and names the keyid', () => {
    const payload = utf8('{"hello":"world"}');
    const envelope = signEnvelope(PAYLOAD_TYPE, payload, [builder]);
    expect(envelope.signatures[0]!.keyid).toBe(builder.keyid);
    const parsed = parseEnvelope(serializeEnvelope(envelope));
    const out = verifyEnvelope(parsed, { keys: [builder.verifier], payloadType: PAYLOAD_TYPE });
    expect(Buffer.from(out.payload).equals(Buffer.from(payload))).toBe(true);
    expect(out.verifiedBy).toEqual([builder.verifier]);
  });

  it('counts distinct keys toward the threshold', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder, rebuilder]);
    const keys = [builder.verifier, rebuilder.verifier];
    expect(verifyEnvelope(envelope, { keys, threshold: 2 }).verifiedBy).toEqual(keys);
    const one = signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder]);
    expect(codeOf(() => verifyEnvelope(one, { keys, threshold: 2 }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
    // The same signature twice is still one key.
    const twice: Envelope = { ...one, signatures: [one.signatures[0]!, one.signatures[0]!] };
    expect(codeOf(() => verifyEnvelope(twice, { keys, threshold: 2 }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
  });

  it('ignores signatures by unknown keys, and skips a failing one (DSSE multi-signature)', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, utf8('x'), [stranger, builder]);
    expect(codeOf(() => verifyEnvelope(envelope, { keys: [builder.verifier] }))).toBe('accepted');
    expect(codeOf(() => verifyEnvelope(envelope, { keys: [rebuilder.verifier] }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
    // A signature labelled with a trusted keyid that fails is skipped, not fatal.
    const forged: Envelope = {
      ...envelope,
      signatures: [
        { keyid: rebuilder.keyid, sig: envelope.signatures[0]!.sig },
        envelope.signatures[1]!,
      ],
    };
    const keys = [builder.verifier, rebuilder.verifier];
    expect(codeOf(() => verifyEnvelope(forged, { keys, threshold: 1 }))).toBe('accepted');
    expect(codeOf(() => verifyEnvelope(forged, { keys, threshold: 2 }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
  });

  it('uses keyid only as a hint: a missing keyid tries every key, a wrong one none', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder]);
    const bare: Envelope = { ...envelope, signatures: [{ sig: envelope.signatures[0]!.sig }] };
    expect(
      codeOf(() => verifyEnvelope(bare, { keys: [rebuilder.verifier, builder.verifier] })),
    ).toBe('accepted');
    const misnamed: Envelope = {
      ...envelope,
      signatures: [{ keyid: rebuilder.keyid, sig: envelope.signatures[0]!.sig }],
    };
    expect(codeOf(() => verifyEnvelope(misnamed, { keys: [builder.verifier] }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
  });

  it('authenticates the payload type', () => {
    const envelope = signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder]);
    const retyped = { ...envelope, payloadType: 'application/json' };
    expect(codeOf(() => verifyEnvelope(retyped, { keys: [builder.verifier] }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
    expect(
      codeOf(() =>
        verifyEnvelope(envelope, { keys: [builder.verifier], payloadType: 'application/json' }),
      ),
    ).toBe('ENVELOPE_PAYLOAD_TYPE_UNSUPPORTED');
  });

  it('refuses bad signing and verification options', () => {
    expect(codeOf(() => signEnvelope(PAYLOAD_TYPE, utf8('x'), []))).toBe('ENVELOPE_SIGNER_INVALID');
    expect(codeOf(() => signEnvelope('', utf8('x'), [builder]))).toBe('ENVELOPE_SIGNER_INVALID');
    expect(codeOf(() => signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder, builder]))).toBe(
      'ENVELOPE_SIGNER_INVALID',
    );
    const envelope = signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder]);
    for (const threshold of [0, -1, 1.5, 2, Number.NaN]) {
      expect(codeOf(() => verifyEnvelope(envelope, { keys: [builder.verifier], threshold }))).toBe(
        'ENVELOPE_VERIFY_OPTIONS_INVALID',
      );
    }
    expect(codeOf(() => verifyEnvelope(envelope, { keys: [] }))).toBe(
      'ENVELOPE_VERIFY_OPTIONS_INVALID',
    );
    expect(
      codeOf(() =>
        verifyEnvelope(envelope, { keys: [builder.verifier, builder.verifier], threshold: 2 }),
      ),
    ).toBe('ENVELOPE_VERIFY_OPTIONS_INVALID');
  });
});

describe('DSSE base64', () => {
  it('accepts both alphabets, with or without padding', () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0xbf);
    for (const s of ['+/+/', '-_-_']) expect(decodeBase64(s)).toEqual(bytes);
    expect(decodeBase64('aGk=')).toEqual(utf8('hi'));
    expect(decodeBase64('aGk')).toEqual(utf8('hi'));
    expect(decodeBase64('')).toEqual(new Uint8Array());
  });

  it('refuses mixed alphabets, bad padding, stray characters and non-zero unused bits', () => {
    for (const s of ['+_aa', 'aGk==', 'aG=k', 'a', 'aGk=a', 'aG k', 'aGl=', 'aGk=\n', '====']) {
      expect(
        codeOf(() => decodeBase64(s)),
        s,
      ).toBe('ENVELOPE_BASE64_INVALID');
    }
  });
});

describe('DSSE parsing', () => {
  const good = JSON.parse(serializeEnvelope(signEnvelope(PAYLOAD_TYPE, utf8('x'), [builder]))) as {
    signatures: Record<string, unknown>[];
  } & Record<string, unknown>;

  it('refuses malformed envelopes with codes', () => {
    const cases: [unknown, string][] = [
      [null, 'ENVELOPE_MALFORMED'],
      [[], 'ENVELOPE_MALFORMED'],
      [{ ...good, extra: 1 }, 'ENVELOPE_MALFORMED'],
      [{ ...good, payload: 1 }, 'ENVELOPE_MALFORMED'],
      [{ ...good, payloadType: '' }, 'ENVELOPE_MALFORMED'],
      [{ ...good, payloadType: undefined }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: [] }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: {} }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: ['sig'] }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: [{ ...good.signatures[0], extension: {} }] }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: [{ keyid: 1, sig: 'AA==' }] }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: [{ keyid: 'k' }] }, 'ENVELOPE_MALFORMED'],
      [{ ...good, signatures: Array(17).fill(good.signatures[0]) }, 'ENVELOPE_TOO_MANY_SIGNATURES'],
    ];
    for (const [value, code] of cases) {
      expect(
        codeOf(() => parseEnvelope(JSON.stringify(value))),
        JSON.stringify(value),
      ).toBe(code);
    }
    expect(codeOf(() => parseEnvelope('{'))).toBe('ENVELOPE_MALFORMED');
    expect(codeOf(() => parseEnvelope(Uint8Array.of(0x7b, 0xff, 0x7d)))).toBe('ENVELOPE_MALFORMED');
  });

  it('enforces the size limit before parsing', () => {
    const text = serializeEnvelope(signEnvelope(PAYLOAD_TYPE, new Uint8Array(1000), [builder]));
    expect(codeOf(() => parseEnvelope(text, { maxSize: text.length - 1 }))).toBe(
      'ENVELOPE_TOO_LARGE',
    );
    expect(codeOf(() => parseEnvelope(text, { maxSize: text.length }))).toBe('accepted');
  });

  it('only ever throws AttestError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(
          codeOf(() => verifyEnvelope(parseEnvelope(bytes), { keys: [builder.verifier] })),
        ).not.toBe('accepted');
      }),
      { numRuns: 500 },
    );
  });

  it('only ever throws AttestError on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(
          codeOf(() =>
            verifyEnvelope(parseEnvelope(JSON.stringify(value)), {
              keys: [builder.verifier],
            }),
          ),
        ).not.toBe('accepted');
      }),
      { numRuns: 500 },
    );
  });
});

describe('a single changed byte anywhere in an envelope', () => {
  const payload = utf8(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', n: 42 }));
  const keys = [builder.verifier, rebuilder.verifier];
  const single = new Uint8Array(
    Buffer.from(serializeEnvelope(signEnvelope(PAYLOAD_TYPE, payload, [builder]))),
  );
  const double = new Uint8Array(
    Buffer.from(serializeEnvelope(signEnvelope(PAYLOAD_TYPE, payload, [builder, rebuilder]))),
  );
  const cases = [
    { name: 'one signature, threshold 1', bytes: single, threshold: 1 },
    { name: 'two signatures, threshold 2', bytes: double, threshold: 2 },
  ];

  function flipped(bytes: Uint8Array, position: number, mask: number): Uint8Array {
    const copy = bytes.slice();
    copy[position] = copy[position]! ^ mask;
    return copy;
  }

  for (const { name, bytes, threshold } of cases) {
    it(`is rejected in strict mode (${name}), at every position`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: bytes.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          (position, mask) => {
            const changed = flipped(bytes, position, mask);
            const code = codeOf(() =>
              verifyEnvelope(parseEnvelope(changed), { keys, threshold, strictBase64: true }),
            );
            expect(code).not.toBe('accepted');
          },
        ),
        { numRuns: 2000 },
      );
    });

    it(`is rejected or is a +/- or /_ alphabet swap of the same bytes (${name})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: bytes.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          (position, mask) => {
            const changed = flipped(bytes, position, mask);
            try {
              const out = verifyEnvelope(parseEnvelope(changed), { keys, threshold });
              const pair = String.fromCharCode(bytes[position]!, changed[position]!);
              expect(['+-', '/_']).toContain(pair);
              expect(Buffer.from(out.payload).equals(Buffer.from(payload))).toBe(true);
            } catch (err) {
              expect(err).toBeInstanceOf(AttestError);
            }
          },
        ),
        { numRuns: 2000 },
      );
    });

    it(`is rejected at each position with the low bit flipped (${name})`, () => {
      for (let position = 0; position < bytes.length; position++) {
        const changed = flipped(bytes, position, 1);
        expect(
          codeOf(() =>
            verifyEnvelope(parseEnvelope(changed), { keys, threshold, strictBase64: true }),
          ),
        ).not.toBe('accepted');
      }
    });
  }
});
