import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  designatedSite,
  encodePolicy,
  expectCode,
  fromBase64,
  generateEd25519KeyPair,
  keyId,
  MAX_POLICY_BYTES,
  openPolicyEnvelope,
  parsePolicy,
  policyDigest,
  policyEnvelope,
  policySigningMessage,
  REGIONS,
  toBase64,
  utf8Json,
  verifyPolicyChain,
  type DsseEnvelope,
  type ResidencyPolicy,
} from './helpers.js';
import {
  keys,
  other,
  policyV1,
  sign,
  signedPolicy,
  supervisor,
  vendor,
  zurich,
} from './fixtures.js';

function withPayload(envelopeText: string, edit: (env: DsseEnvelope) => DsseEnvelope): string {
  return JSON.stringify(edit(JSON.parse(envelopeText) as DsseEnvelope));
}

describe('policy payload: encode and parse', () => {
  it('round-trips the demo policy, canonical JSON + newline', () => {
    const bytes = encodePolicy(policyV1);
    expect(new TextDecoder().decode(bytes).endsWith('}\n')).toBe(true);
    expect(parsePolicy(bytes)).toEqual(policyV1);
    expect(policyDigest(bytes)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('demo: NA, EU, AU, KR, JP, SG → Zurich; every other region → the default site', () => {
    for (const region of Object.keys(REGIONS)) {
      const expected = ['NA', 'EU', 'AU', 'KR', 'JP', 'SG'].includes(region) ? zurich : other;
      expect(designatedSite(policyV1, region), region).toEqual(expected);
    }
  });

  it('designatedSite: REGION_UNKNOWN outside the table, REGION_NOT_DESIGNATED without mapping or default', () => {
    expectCode(() => designatedSite(policyV1, 'XX'), 'REGION_UNKNOWN');
    expectCode(() => designatedSite(policyV1, 'constructor'), 'REGION_UNKNOWN');
    const withoutDefault: ResidencyPolicy = { ...policyV1, default: undefined };
    expectCode(() => designatedSite(withoutDefault, 'MEA'), 'REGION_NOT_DESIGNATED');
    expect(designatedSite(withoutDefault, 'EU').id).toBe('ch-zrh');
  });

  it('property: any valid policy round-trips and its digest is stable', () => {
    const regionNames = Object.keys(REGIONS);
    fc.assert(
      fc.property(
        fc.subarray(regionNames),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        (mapped, withDefault, version) => {
          const policy: ResidencyPolicy = {
            schema: 'glasshouse.residency-policy/v1',
            version,
            previous: version === 1 ? null : `sha256:${'a'.repeat(64)}`,
            issuedAt: '2026-12-04T17:00:00.5Z',
            sites: [zurich, other],
            regions: Object.fromEntries(mapped.map((r, i) => [r, i % 2 ? zurich.id : other.id])),
            ...(withDefault ? { default: other.id } : {}),
          };
          const bytes = encodePolicy(policy);
          expect(parsePolicy(bytes)).toEqual(policy);
          expect(policyDigest(encodePolicy(parsePolicy(bytes)))).toBe(policyDigest(bytes));
        },
      ),
      { numRuns: 50 },
    );
  });

  // Each refusal cites the rule it enforces (DATA-HALF "Policy", issue 16 §1).
  const cases: [string, (p: Record<string, unknown>) => unknown][] = [
    ['wrong schema', (p) => ({ ...p, schema: 'glasshouse.residency-policy/v2' })],
    ['unknown field', (p) => ({ ...p, extra: 1 })],
    ['missing field', (p) => ({ ...p, issuedAt: undefined })],
    ['version 0', (p) => ({ ...p, version: 0 })],
    ['version not integer', (p) => ({ ...p, version: 1.5 })],
    ['version 1 with previous', (p) => ({ ...p, previous: `sha256:${'a'.repeat(64)}` })],
    ['version 2 without previous', (p) => ({ ...p, version: 2 })],
    ['previous not a digest', (p) => ({ ...p, version: 2, previous: 'sha256:XYZ' })],
    ['issuedAt not RFC 3339 UTC', (p) => ({ ...p, issuedAt: '2026-12-04 17:00:00' })],
    ['issuedAt with offset', (p) => ({ ...p, issuedAt: '2026-12-04T17:00:00+01:00' })],
    ['issuedAt impossible day', (p) => ({ ...p, issuedAt: '2026-02-30T17:00:00Z' })],
    ['no sites', (p) => ({ ...p, sites: [] })],
    ['duplicate site ids', (p) => ({ ...p, sites: [zurich, zurich] })],
    ['site id bad', (p) => ({ ...p, sites: [{ ...zurich, id: 'CH_ZRH' }, other] })],
    ['site country bad', (p) => ({ ...p, sites: [{ ...zurich, country: 'che' }, other] })],
    ['site extra field', (p) => ({ ...p, sites: [{ ...zurich, x: 1 }, other] })],
    [
      'verifier key bad',
      (p) => ({ ...p, sites: [{ ...zurich, verifierKey: 'name+01+AA' }, other] }),
    ],
    [
      'ingest URL not http',
      (p) => ({ ...p, sites: [{ ...zurich, ingestUrl: 'ftp://h/' }, other] }),
    ],
    [
      'ingest URL no slash',
      (p) => ({ ...p, sites: [{ ...zurich, ingestUrl: 'http://h:1/x' }, other] }),
    ],
    [
      'ingest URL credentials',
      (p) => ({ ...p, sites: [{ ...zurich, ingestUrl: 'http://u:p@h/' }, other] }),
    ],
    [
      'ingest URL query',
      (p) => ({ ...p, sites: [{ ...zurich, ingestUrl: 'http://h/?a=/' }, other] }),
    ],
    ['region unknown', (p) => ({ ...p, regions: { ...(p.regions as object), XX: 'ch-zrh' } })],
    ['region to unlisted site', (p) => ({ ...p, regions: { EU: 'de-fra' } })],
    ['default unlisted', (p) => ({ ...p, default: 'de-fra' })],
    ['regions not object', (p) => ({ ...p, regions: [] })],
    ['not an object', () => [1, 2]],
  ];
  for (const [name, edit] of cases) {
    it(`refuses: ${name} (POLICY_INVALID)`, () => {
      const value = edit(
        JSON.parse(new TextDecoder().decode(encodePolicy(policyV1))) as Record<string, unknown>,
      );
      expectCode(() => parsePolicy(utf8Json(value)), 'POLICY_INVALID');
    });
  }

  it('refuses bytes over 64 KiB before parsing, non-JSON, non-UTF-8 and non-canonical spellings', () => {
    const err = expectCode(
      () => parsePolicy(new Uint8Array(MAX_POLICY_BYTES + 1)),
      'POLICY_INVALID',
    );
    expect(err.evidence).toMatchObject({ max: MAX_POLICY_BYTES });
    expectCode(() => parsePolicy(new TextEncoder().encode('{')), 'POLICY_INVALID');
    expectCode(() => parsePolicy(new Uint8Array([0xff, 0xfe])), 'POLICY_INVALID');
    const pretty = new TextEncoder().encode(JSON.stringify(policyV1, null, 2));
    expectCode(() => parsePolicy(pretty), 'POLICY_INVALID');
    const noNewline = encodePolicy(policyV1).slice(0, -1);
    expectCode(() => parsePolicy(noNewline), 'POLICY_INVALID');
  });

  it('encodePolicy refuses an invalid policy too', () => {
    expectCode(() => encodePolicy({ ...policyV1, regions: { EU: 'nowhere' } }), 'POLICY_INVALID');
  });
});

describe('policy envelope: both parties sign (issue 16 §1)', () => {
  it('opens with both signatures, in either order, and ignores unknown keyids (DSSE protocol.md)', () => {
    const opened = openPolicyEnvelope(signedPolicy(policyV1), keys);
    expect(opened.policy).toEqual(policyV1);
    expect(opened.digest).toBe(policyDigest(encodePolicy(policyV1)));
    const stranger = generateEd25519KeyPair();
    const text = signedPolicy(policyV1, [stranger, supervisor, vendor]);
    expect(openPolicyEnvelope(text, keys).digest).toBe(opened.digest);
    expect(openPolicyEnvelope(new TextEncoder().encode(text), keys).digest).toBe(opened.digest);
    expect(openPolicyEnvelope(JSON.parse(text) as DsseEnvelope, keys).digest).toBe(opened.digest);
  });

  it('POLICY_SIGNATURE_MISSING when either party has not signed', () => {
    const onlyVendor = expectCode(
      () => openPolicyEnvelope(signedPolicy(policyV1, [vendor]), keys),
      'POLICY_SIGNATURE_MISSING',
    );
    expect(onlyVendor.evidence).toMatchObject({ missing: ['supervisor'] });
    expectCode(
      () => openPolicyEnvelope(signedPolicy(policyV1, [supervisor]), keys),
      'POLICY_SIGNATURE_MISSING',
    );
    // A stranger's signature counts for no party.
    expectCode(
      () => openPolicyEnvelope(signedPolicy(policyV1, [vendor, generateEd25519KeyPair()]), keys),
      'POLICY_SIGNATURE_MISSING',
    );
    // Two signatures by one party are still one party.
    expectCode(
      () => openPolicyEnvelope(signedPolicy(policyV1, [vendor, vendor]), keys),
      'POLICY_SIGNATURE_MISSING',
    );
  });

  it("POLICY_SIGNATURE_INVALID when a known key's signature fails (forged, or over other bytes)", () => {
    const payload = encodePolicy(policyV1);
    const message = policySigningMessage(payload);
    const forged = policyEnvelope(payload, [
      sign(vendor, message),
      // The supervisor's keyid over a signature by the vendor's key: a forgery.
      { keyid: keyId(supervisor.publicKey), sig: sign(vendor, message).sig },
    ]);
    expectCode(() => openPolicyEnvelope(forged, keys), 'POLICY_SIGNATURE_INVALID');
    // The payload changed after signing.
    const text = signedPolicy(policyV1);
    const changed = withPayload(text, (env) => ({
      ...env,
      payload: toBase64(
        encodePolicy({ ...policyV1, regions: { ...policyV1.regions, MEA: 'ch-zrh' } }),
      ),
    }));
    expectCode(() => openPolicyEnvelope(changed, keys), 'POLICY_SIGNATURE_INVALID');
    // A signature that is not 64 bytes.
    const short = withPayload(text, (env) => ({
      ...env,
      signatures: env.signatures.map((s, i) => (i === 0 ? { ...s, sig: 'AAAA' } : s)),
    }));
    expectCode(() => openPolicyEnvelope(short, keys), 'POLICY_SIGNATURE_INVALID');
  });

  it('binds the payload type: a signature over another type does not verify (DSSE protocol.md)', () => {
    const text = signedPolicy(policyV1);
    const retyped = withPayload(text, (env) => ({ ...env, payloadType: 'application/json' }));
    expectCode(() => openPolicyEnvelope(retyped, keys), 'POLICY_INVALID');
  });

  it('refuses malformed envelopes with POLICY_INVALID', () => {
    const text = signedPolicy(policyV1);
    const bad: string[] = [
      '',
      'null',
      '[]',
      withPayload(text, (env) => ({ ...env, signatures: [] })),
      withPayload(text, (env) => ({ ...env, extra: 1 }) as DsseEnvelope),
      withPayload(text, (env) => ({ ...env, payload: env.payload.replace(/=*$/, '') + '!' })),
      withPayload(text, (env) => ({
        ...env,
        signatures: env.signatures.map(({ sig }) => ({ sig }) as never),
      })),
      withPayload(text, (env) => ({
        ...env,
        signatures: Array(9).fill(env.signatures[0]) as never,
      })),
      ' '.repeat(200 * 1024),
    ];
    for (const b of bad) expectCode(() => openPolicyEnvelope(b, keys), 'POLICY_INVALID');
  });

  it('refuses one key standing for both parties (KEY_INVALID)', () => {
    expectCode(
      () =>
        openPolicyEnvelope(signedPolicy(policyV1, [vendor]), {
          vendorKey: vendor.publicKey,
          supervisorKey: vendor.publicKey,
        }),
      'KEY_INVALID',
    );
  });

  it('checks the signature before the payload: an unsigned bad payload is a signature failure', () => {
    const env = JSON.parse(signedPolicy(policyV1, [vendor])) as DsseEnvelope;
    expect(fromBase64(env.payload)).toBeDefined();
    expectCode(() => openPolicyEnvelope(env, keys), 'POLICY_SIGNATURE_MISSING');
  });
});

describe('policy chain (issue 16 §1: each version names the digest of the previous one)', () => {
  const v1 = { policy: policyV1, digest: policyDigest(encodePolicy(policyV1)) };
  const v2: ResidencyPolicy = { ...policyV1, version: 2, previous: v1.digest };

  it('accepts version 1 first and v2 naming v1', () => {
    verifyPolicyChain(null, policyV1);
    verifyPolicyChain(v1, v2);
  });

  it('POLICY_CHAIN_BROKEN on a skipped version, a wrong previous, a restart or a replay', () => {
    const err = expectCode(() => {
      verifyPolicyChain(v1, { ...v2, version: 3 });
    }, 'POLICY_CHAIN_BROKEN');
    expect(err.evidence).toMatchObject({ expected: { version: 2, previous: v1.digest } });
    expectCode(() => {
      verifyPolicyChain(v1, { ...v2, previous: `sha256:${'0'.repeat(64)}` });
    }, 'POLICY_CHAIN_BROKEN');
    expectCode(() => {
      verifyPolicyChain(v1, policyV1);
    }, 'POLICY_CHAIN_BROKEN');
    expectCode(() => {
      verifyPolicyChain(null, v2);
    }, 'POLICY_CHAIN_BROKEN');
  });
});
