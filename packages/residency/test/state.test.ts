import { describe, expect, it } from 'vitest';
import {
  encodePolicy,
  encodeResidencyLogEntry,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  expectCode,
  generateEd25519KeyPair,
  MAX_RESIDENCY_LOG_ENTRY_BYTES,
  parseResidencyLogEntry,
  policyDigest,
  RESIDENCY_LOG_SCHEMA,
  ResidencyState,
  utf8Json,
  type DsseEnvelope,
  type ResidencyPolicy,
} from './helpers.js';
import {
  enrollmentOf,
  keys,
  logEntry,
  policyV1,
  sign,
  signedEnrollment,
  signedPolicy,
  supervisor,
  vendor,
} from './fixtures.js';

const digestV1 = policyDigest(encodePolicy(policyV1));
const policyV2: ResidencyPolicy = {
  ...policyV1,
  version: 2,
  previous: digestV1,
  issuedAt: '2026-12-05T00:00:00Z',
  regions: { ...policyV1.regions, MEA: 'ch-zrh' },
};

function started(): ResidencyState {
  const state = ResidencyState.empty(keys);
  state.apply(0n, logEntry('policy', signedPolicy(policyV1)));
  return state;
}

describe('residency-log entries', () => {
  it('round-trip, canonical, no trailing newline', () => {
    const bytes = logEntry('policy', signedPolicy(policyV1));
    const entry = parseResidencyLogEntry(bytes);
    expect(entry.kind).toBe('policy');
    expect(encodeResidencyLogEntry(entry)).toEqual(bytes);
    expect(bytes.at(-1)).toBe('}'.charCodeAt(0));
  });

  it('RESIDENCY_ENTRY_INVALID: size cap (c2sp.org/tlog-tiles uint16 length), schema, kind, shape, payload type', () => {
    expectCode(
      () => parseResidencyLogEntry(new Uint8Array(MAX_RESIDENCY_LOG_ENTRY_BYTES + 1)),
      'RESIDENCY_ENTRY_INVALID',
    );
    const good = JSON.parse(
      new TextDecoder().decode(logEntry('policy', signedPolicy(policyV1))),
    ) as {
      envelope: DsseEnvelope;
    };
    const bad: unknown[] = [
      { ...good, schema: 'glasshouse.residency-log/v2' },
      { ...good, kind: 'release' },
      { ...good, kind: 'enrollment' }, // a policy envelope under the enrollment kind
      { ...good, extra: true },
      { ...good, envelope: { ...good.envelope, signatures: 'x' } },
      { ...good, envelope: null },
      'policy',
    ];
    for (const value of bad) {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      expectCode(() => parseResidencyLogEntry(bytes), 'RESIDENCY_ENTRY_INVALID');
    }
    expectCode(() => parseResidencyLogEntry(utf8Json(good)), 'RESIDENCY_ENTRY_INVALID'); // trailing newline: not canonical
    expectCode(() => parseResidencyLogEntry(new Uint8Array([0xc3])), 'RESIDENCY_ENTRY_INVALID');
  });
});

describe('ResidencyState: the fold over the residency log', () => {
  it('refuses one key for both parties', () => {
    expectCode(
      () => ResidencyState.empty({ vendorKey: vendor.publicKey, supervisorKey: vendor.publicKey }),
      'KEY_INVALID',
    );
  });

  it('tracks the latest policy and every logged version', () => {
    const state = started();
    expect(state.policy).toMatchObject({ digest: digestV1, index: 0n });
    const applied = state.apply(3n, logEntry('policy', signedPolicy(policyV2)));
    expect(applied).toMatchObject({ kind: 'policy', index: 3n });
    expect(state.policy?.policy.version).toBe(2);
    expect(state.policyByDigest(digestV1)).toEqual(policyV1);
    expect(state.loggedPolicy(policyDigest(encodePolicy(policyV2)))?.index).toBe(3n);
    expect(state.lastIndex).toBe(3n);
  });

  it('refuses a policy signed by one party only, a forged one, and a broken chain; state unchanged', () => {
    const state = started();
    expectCode(
      () => state.apply(1n, logEntry('policy', signedPolicy(policyV2, [vendor]))),
      'POLICY_SIGNATURE_MISSING',
    );
    const stranger = generateEd25519KeyPair();
    expectCode(
      () => state.apply(1n, logEntry('policy', signedPolicy(policyV2, [vendor, stranger]))),
      'POLICY_SIGNATURE_MISSING',
    );
    // Issue 16 §1: versions chain; a skipped version or a wrong previous is refused.
    expectCode(
      () => state.apply(1n, logEntry('policy', signedPolicy({ ...policyV2, version: 3 }))),
      'POLICY_CHAIN_BROKEN',
    );
    expectCode(
      () =>
        state.apply(
          1n,
          logEntry('policy', signedPolicy({ ...policyV2, previous: `sha256:${'1'.repeat(64)}` })),
        ),
      'POLICY_CHAIN_BROKEN',
    );
    expectCode(
      () => state.apply(1n, logEntry('policy', signedPolicy(policyV1))),
      'POLICY_CHAIN_BROKEN',
    );
    expect(state.policy?.digest).toBe(digestV1);
    expect(state.lastIndex).toBe(0n);
    // The next good entry still applies after the refusals (a monitor skips and goes on).
    state.apply(5n, logEntry('policy', signedPolicy(policyV2)));
    expect(state.policy?.policy.version).toBe(2);
  });

  it('a first policy must be version 1', () => {
    const state = ResidencyState.empty(keys);
    expectCode(
      () => state.apply(0n, logEntry('policy', signedPolicy(policyV2))),
      'POLICY_CHAIN_BROKEN',
    );
    expect(state.policy).toBeNull();
  });

  it('RESIDENCY_ENTRY_OUT_OF_ORDER for an index not above the last applied', () => {
    const state = started();
    expectCode(
      () => state.apply(0n, logEntry('policy', signedPolicy(policyV2))),
      'RESIDENCY_ENTRY_OUT_OF_ORDER',
    );
  });

  it('keeps enrollments; re-enrollment needs sequence + 1 and the customer signature again', () => {
    const state = started();
    const customer = generateEd25519KeyPair();
    const first = enrollmentOf(customer, 'EU', 1);
    state.apply(1n, logEntry('enrollment', signedEnrollment(first, [customer, vendor])));
    expect(state.enrollment(first.customer)).toEqual({ enrollment: first, index: 1n });

    // The vendor alone cannot re-home the customer (issue 16 §2).
    expectCode(
      () =>
        state.apply(
          2n,
          logEntry('enrollment', signedEnrollment(enrollmentOf(customer, 'MEA', 2), [vendor])),
        ),
      'ENROLLMENT_SIGNATURE_MISSING',
    );
    // Nor replay or skip a sequence number.
    expectCode(
      () =>
        state.apply(
          2n,
          logEntry(
            'enrollment',
            signedEnrollment(enrollmentOf(customer, 'MEA', 1), [customer, vendor]),
          ),
        ),
      'ENROLLMENT_SEQUENCE_BROKEN',
    );
    expectCode(
      () =>
        state.apply(
          2n,
          logEntry(
            'enrollment',
            signedEnrollment(enrollmentOf(customer, 'MEA', 3), [customer, vendor]),
          ),
        ),
      'ENROLLMENT_SEQUENCE_BROKEN',
    );
    expect(state.enrollment(first.customer)?.enrollment.region).toBe('EU');

    const second = enrollmentOf(customer, 'MEA', 2);
    state.apply(4n, logEntry('enrollment', signedEnrollment(second, [customer, vendor])));
    expect(state.enrollment(first.customer)).toEqual({ enrollment: second, index: 4n });
    expect(state.enrollmentHistory(first.customer).map((e) => e.index)).toEqual([1n, 4n]);
    expect(state.customers()).toEqual([first.customer]);
  });

  it('a first enrollment must have sequence 1; an enrollment with an unknown region is refused', () => {
    const state = started();
    const customer = generateEd25519KeyPair();
    const payload = utf8Json({ ...enrollmentOf(customer, 'EU'), region: 'MARS' });
    const message = enrollmentSigningMessage(payload);
    const text = enrollmentEnvelope(payload, [sign(customer, message), sign(vendor, message)]);
    expectCode(() => state.apply(1n, logEntry('enrollment', text)), 'REGION_UNKNOWN');
    expectCode(
      () =>
        state.apply(
          1n,
          logEntry(
            'enrollment',
            signedEnrollment(enrollmentOf(customer, 'EU', 2), [customer, vendor]),
          ),
        ),
      'ENROLLMENT_SEQUENCE_BROKEN',
    );
  });

  it('an enrollment signed by the supervisor instead of the vendor is refused', () => {
    const state = started();
    const customer = generateEd25519KeyPair();
    expectCode(
      () =>
        state.apply(
          1n,
          logEntry(
            'enrollment',
            signedEnrollment(enrollmentOf(customer, 'EU'), [customer, supervisor]),
          ),
        ),
      'ENROLLMENT_SIGNATURE_MISSING',
    );
  });

  it('skips a signature by an unknown key (DSSE protocol.md) and judges the entry on its content', () => {
    const state = started();
    const entry = encodeResidencyLogEntry({
      schema: RESIDENCY_LOG_SCHEMA,
      kind: 'policy',
      envelope: JSON.parse(signedPolicy(policyV1)) as DsseEnvelope,
    });
    const text = new TextDecoder()
      .decode(entry)
      .replace('"signatures":[', '"signatures":[{"keyid":"x","sig":"AAAA"},');
    expectCode(() => state.apply(1n, new TextEncoder().encode(text)), 'POLICY_CHAIN_BROKEN');
  });
});
