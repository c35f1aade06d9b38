import { describe, expect, it } from 'vitest';
import {
  checkReputation,
  checkStoredEntry,
  encodeIngestLogEntry,
  encodePolicy,
  expectCode,
  generateEd25519KeyPair,
  INGEST_LOG_SCHEMA,
  MAX_DELETED_PER_ENTRY,
  MAX_INGEST_LOG_ENTRY_BYTES,
  parseIngestLogEntry,
  policyDigest,
  ResidencyState,
  type DeletedEntry,
  type StoredEntry,
} from './helpers.js';
import {
  enrollmentOf,
  keys,
  logEntry,
  policyV1,
  signedEnrollment,
  signedPolicy,
  vendor,
} from './fixtures.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const customer = generateEd25519KeyPair();
const enrollment = enrollmentOf(customer, 'EU');
const digestV1 = policyDigest(encodePolicy(policyV1));

const stored: StoredEntry = {
  schema: INGEST_LOG_SCHEMA,
  kind: 'stored',
  site: 'ch-zrh',
  policy: digestV1,
  customer: enrollment.customer,
  region: 'EU',
  events: 500,
  batch: digest('b'),
  storedAt: '2026-12-04T17:10:01.250Z',
};
const deleted: DeletedEntry = {
  schema: INGEST_LOG_SCHEMA,
  kind: 'deleted',
  site: 'ch-zrh',
  batches: [digest('b'), digest('c')],
  olderThan: '2026-11-04T00:00:00Z',
  deletedAt: '2026-12-04T18:00:00Z',
};

function state(): ResidencyState {
  const s = ResidencyState.empty(keys);
  s.apply(0n, logEntry('policy', signedPolicy(policyV1)));
  s.apply(1n, logEntry('enrollment', signedEnrollment(enrollment, [customer, vendor])));
  return s;
}

const bytesOf = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('ingest-log entries', () => {
  it('round-trip both kinds, canonical JSON without newline', () => {
    for (const entry of [stored, deleted]) {
      const bytes = encodeIngestLogEntry(entry);
      expect(parseIngestLogEntry(bytes)).toEqual(entry);
      expect(bytes).toEqual(bytesOf(entry));
    }
  });

  const cases: [string, unknown][] = [
    ['wrong schema', { ...stored, schema: 'glasshouse.ingest-log/v0' }],
    ['unknown kind', { ...stored, kind: 'read' }],
    ['unknown field', { ...stored, host: 'pc-1' }],
    ['site id bad', { ...stored, site: 'Zurich' }],
    ['policy not a digest', { ...stored, policy: 'v1' }],
    ['customer not a pseudonym', { ...stored, customer: 'ACME' }],
    ['region bad', { ...stored, region: 'eu' }],
    ['events 0', { ...stored, events: 0 }],
    ['events over the batch cap', { ...stored, events: 1001 }],
    ['batch not a digest', { ...stored, batch: 'sha256:xyz' }],
    ['storedAt not RFC 3339', { ...stored, storedAt: '04/12/2026' }],
    ['deleted: no batches', { ...deleted, batches: [] }],
    [
      'deleted: over 500 batches',
      {
        ...deleted,
        batches: Array.from(
          { length: MAX_DELETED_PER_ENTRY + 1 },
          (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`,
        ),
      },
    ],
    ['deleted: duplicate batch', { ...deleted, batches: [digest('b'), digest('b')] }],
    ['deleted: stored fields mixed in', { ...deleted, region: 'EU' }],
    ['deleted: olderThan missing', { ...deleted, olderThan: undefined }],
    ['not an object', null],
  ];
  for (const [name, value] of cases) {
    it(`refuses: ${name} (INGEST_ENTRY_INVALID)`, () => {
      expectCode(() => parseIngestLogEntry(bytesOf(value)), 'INGEST_ENTRY_INVALID');
    });
  }

  it('refuses over 65,535 bytes (c2sp.org/tlog-tiles entry bundles), non-canonical bytes and bad UTF-8', () => {
    expectCode(
      () => parseIngestLogEntry(new Uint8Array(MAX_INGEST_LOG_ENTRY_BYTES + 1)),
      'INGEST_ENTRY_INVALID',
    );
    expectCode(
      () => parseIngestLogEntry(new TextEncoder().encode(JSON.stringify(stored, null, 1))),
      'INGEST_ENTRY_INVALID',
    );
    expectCode(
      () => parseIngestLogEntry(new Uint8Array([0x7b, 0xff, 0x7d])),
      'INGEST_ENTRY_INVALID',
    );
  });
});

describe('checkStoredEntry: the residency check of a stored batch', () => {
  it('accepts a batch of a designated region at its site under a logged policy', () => {
    checkStoredEntry(state(), 'ch-zrh', stored);
  });

  it('REGION_NOT_DESIGNATED_HERE: data of a region the policy sends elsewhere, with evidence', () => {
    const err = expectCode(() => {
      checkStoredEntry(state(), 'us-iad', { ...stored, site: 'us-iad' });
    }, 'REGION_NOT_DESIGNATED_HERE');
    expect(err.evidence).toMatchObject({
      designated: 'ch-zrh',
      siteId: 'us-iad',
      entry: { region: 'EU' },
    });
    // A region outside the table is designated nowhere.
    expectCode(() => {
      checkStoredEntry(state(), 'ch-zrh', { ...stored, region: 'MARS' });
    }, 'REGION_NOT_DESIGNATED_HERE');
  });

  it('POLICY_UNKNOWN: the entry names a policy version that is not logged', () => {
    const err = expectCode(() => {
      checkStoredEntry(state(), 'ch-zrh', { ...stored, policy: digest('0') });
    }, 'POLICY_UNKNOWN');
    expect(err.evidence).toMatchObject({ entry: { policy: digest('0') } });
  });

  it("ENROLLMENT_MISMATCH: the customer's logged region is not the entry's, or the customer is not enrolled", () => {
    // MEA goes to us-iad under the demo policy, so store it there: the policy allows it, the enrollment does not.
    const err = expectCode(() => {
      checkStoredEntry(state(), 'us-iad', { ...stored, site: 'us-iad', region: 'MEA' });
    }, 'ENROLLMENT_MISMATCH');
    expect(err.evidence).toMatchObject({ enrolledRegion: 'EU', enrollmentIndex: '1' });
    const stranger = enrollmentOf(generateEd25519KeyPair(), 'EU');
    const none = expectCode(() => {
      checkStoredEntry(state(), 'ch-zrh', { ...stored, customer: stranger.customer });
    }, 'ENROLLMENT_MISMATCH');
    expect(none.evidence).toMatchObject({ enrolledRegion: null });
  });

  it('anyEnrollment: an old entry stays valid after the customer re-enrolled elsewhere', () => {
    const s = state();
    s.apply(
      2n,
      logEntry(
        'enrollment',
        signedEnrollment(enrollmentOf(customer, 'MEA', 2), [customer, vendor]),
      ),
    );
    expectCode(() => {
      checkStoredEntry(s, 'ch-zrh', stored);
    }, 'ENROLLMENT_MISMATCH');
    checkStoredEntry(s, 'ch-zrh', stored, { anyEnrollment: true });
  });

  it("INGEST_ENTRY_INVALID when the entry names another site than the log's", () => {
    expectCode(() => {
      checkStoredEntry(state(), 'us-iad', stored);
    }, 'INGEST_ENTRY_INVALID');
  });
});

describe('reputation answers', () => {
  const answer = {
    sha256: 'a'.repeat(64),
    verdict: 'known-bad',
    firstSeen: '2026-12-01T10:00:00Z',
    detections: 12,
    source: ['telemetry', 'verdict-list'],
  };

  it('accepts the documented shape', () => {
    expect(checkReputation(answer)).toEqual(answer);
    expect(
      checkReputation({ ...answer, verdict: 'unknown', firstSeen: null, detections: 0, source: [] })
        .verdict,
    ).toBe('unknown');
  });

  it('REPUTATION_INVALID for anything else', () => {
    for (const bad of [
      { ...answer, verdict: 'bad' },
      { ...answer, sha256: 'A'.repeat(64) },
      { ...answer, detections: -1 },
      { ...answer, detections: 1.5 },
      { ...answer, firstSeen: 'yesterday' },
      { ...answer, source: ['rumour'] },
      { ...answer, source: ['telemetry', 'telemetry'] },
      { ...answer, extra: 1 },
      [],
    ]) {
      expectCode(() => checkReputation(bad), 'REPUTATION_INVALID');
    }
  });
});
