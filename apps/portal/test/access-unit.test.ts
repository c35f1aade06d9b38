// The Access page's checks of what the gateway publishes, on Node with
// real keys: approval requests (digest, each decision's signature, the
// recomputed status) and break-glass reviews (signature, role, deadline).
import { describe, expect, it } from 'vitest';
import {
  accessRecordDigest,
  accessRequestDigest,
  approvalEnvelope,
  approvalSigningMessage,
  demoAccessPolicy,
  encodeAccessRecord,
  encodeAccessRequest,
  encodeApproval,
  type AccessRecord,
  type Approval,
} from '@glasshouse/access-format';
import { ed25519KeyPairFromSeed, keyId, signEd25519 } from '@glasshouse/residency';
import {
  verifyBreakGlass,
  verifyRequest,
  type Keys,
  type LoggedAccess,
  type RawRequest,
} from '../src/verify/access.js';

const supervisor = ed25519KeyPairFromSeed(new Uint8Array(32).fill(1));
const customerKey = ed25519KeyPairFromSeed(new Uint8Array(32).fill(2));
const stranger = ed25519KeyPairFromSeed(new Uint8Array(32).fill(3));
const CUSTOMER = `c-${'1'.repeat(32)}`;
const keys: Keys = {
  policy: demoAccessPolicy(supervisor.publicKey, '2026-12-01T00:00:00Z'),
  customerKey: (c) => (c === CUSTOMER ? customerKey.publicKey : undefined),
};
const NOW = new Date('2026-12-04T10:00:00Z');

const base: AccessRecord = {
  schema: 'glasshouse.access-record/v1',
  site: 'ch-zrh',
  customer: CUSTOMER,
  dataClass: 'personal-fields',
  scope: { kind: 'time-range', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' },
  accessor: { principal: `p-${'2'.repeat(32)}`, entity: 'Vendor AG', country: 'CH', role: 'sre' },
  justification: { code: 'CUSTOMER_INITIATED_SUPPORT', detail: 'asked', ticket: 'SUP-1' },
  approval: null,
  time: '2026-12-04T09:00:00Z',
  counter: 1,
};
const requestBytes = encodeAccessRequest({
  schema: 'glasshouse.access-request/v1',
  site: base.site,
  customer: base.customer,
  dataClass: base.dataClass,
  scope: base.scope,
  accessor: base.accessor,
  justification: base.justification,
  requestedAt: '2026-12-04T08:00:00Z',
  expiresAt: '2026-12-04T12:00:00Z',
});
const digest = accessRequestDigest(requestBytes);

function sign(
  role: 'customer' | 'supervisor',
  signer: { seed: Uint8Array; publicKey: Uint8Array },
  over: Partial<Approval> = {},
): string {
  const payload = encodeApproval({
    schema: 'glasshouse.access-approval/v1',
    request: digest,
    role,
    decision: 'approve',
    decidedAt: '2026-12-04T08:30:00Z',
    expiresAt: '2026-12-04T18:00:00Z',
    ...over,
  });
  return approvalEnvelope(payload, {
    keyid: keyId(signer.publicKey),
    sig: signEd25519(signer.seed, approvalSigningMessage(payload)),
  });
}

const raw = (envelopes: string[], over: Partial<RawRequest> = {}): RawRequest => ({
  digest,
  bytes: requestBytes,
  envelopes,
  claimed: 'pending',
  ...over,
});

describe('approval requests', () => {
  it('verifies each decision and recomputes the status: pending, approved, denied', () => {
    const pending = verifyRequest(raw([sign('customer', customerKey)]), keys, NOW);
    expect(pending.status).toBe('pending');
    expect(pending.check.verdict).toBe('pass');
    const approved = verifyRequest(
      raw([sign('customer', customerKey), sign('supervisor', supervisor)], { claimed: 'approved' }),
      keys,
      NOW,
    );
    expect(approved.status).toBe('approved');
    expect(approved.decisions.map((d) => `${d.decision} ${d.role}`)).toEqual([
      'approve customer',
      'approve supervisor',
    ]);
    expect(approved.decisions[1]?.check.summary).toContain(
      `signed by key ${keyId(supervisor.publicKey)}`,
    );
    const denied = verifyRequest(
      raw([sign('supervisor', supervisor, { decision: 'deny' })]),
      keys,
      NOW,
    );
    expect(denied.status).toBe('denied');
    // The gateway's claim is shown, not believed.
    expect(denied.check.summary).toMatch(/^denied \(the gateway says pending\)/);
  });

  it('refuses a forged or foreign signature, another request, bytes of another digest', () => {
    const forged = verifyRequest(raw([sign('supervisor', stranger)]), keys, NOW);
    expect(forged.check.verdict).toBe('fail');
    expect(forged.decisions[0]?.check.summary).toMatch(/^APPROVAL_SIGNATURE_INVALID/);
    // A forged decision does not count: the status comes from verified ones only.
    expect(forged.status).toBe('pending');
    const other = verifyRequest(
      raw([sign('supervisor', supervisor, { request: `sha256:${'cd'.repeat(32)}` })]),
      keys,
      NOW,
    );
    expect(other.decisions[0]?.check.summary).toMatch(/^PORTAL_APPROVAL_OTHER_REQUEST/);
    const swapped = verifyRequest(raw([], { digest: `sha256:${'ef'.repeat(32)}` }), keys, NOW);
    expect(swapped.check.summary).toMatch(/^PORTAL_REQUEST_DIGEST_MISMATCH/);
    expect(swapped.status).toBeUndefined();
    const unknown = verifyRequest(
      raw([sign('customer', customerKey)]),
      {
        ...keys,
        customerKey: () => undefined,
      },
      NOW,
    );
    expect(unknown.decisions[0]?.check.summary).toMatch(/^PORTAL_CUSTOMER_UNKNOWN/);
  });
});

describe('break-glass reviews', () => {
  const glass: AccessRecord = {
    ...base,
    justification: { code: 'BREAK_GLASS', detail: 'active intrusion' },
  };
  const recordDigest = accessRecordDigest(encodeAccessRecord(glass));
  const access: LoggedAccess = {
    index: 7,
    record: glass,
    digest: recordDigest,
    time: Date.parse(glass.time),
    inclusion: { id: 'inclusion-7', title: 'Included', what: '', verdict: 'pass', summary: '' },
    policy: undefined,
  };
  const due = '2026-12-05T09:00:00Z';
  const review = (decidedAt: string, role: 'supervisor' | 'customer' = 'supervisor') => ({
    record: recordDigest,
    decision: 'approve',
    decidedAt,
    envelope: sign(role, role === 'supervisor' ? supervisor : customerKey, {
      request: recordDigest,
      decidedAt,
      expiresAt: '2026-12-06T00:00:00Z',
    }),
  });
  const listed = (r: unknown) => ({ record: recordDigest, index: 7, reviewDue: due, review: r });

  it('passes a supervisor review signed before the deadline; awaits one before it', () => {
    const ok = verifyBreakGlass(access, listed(review('2026-12-04T10:00:00Z')), keys, NOW);
    expect(ok.check.verdict).toBe('pass');
    expect(ok.review).toEqual({ decision: 'approve', decidedAt: '2026-12-04T10:00:00Z' });
    expect(ok.overdue).toBe(false);
    const waiting = verifyBreakGlass(access, listed(null), keys, NOW);
    expect(waiting.check.verdict).toBe('note');
    expect(waiting.check.summary).toContain(`due ${due}`);
  });

  it('is red when overdue, unlisted, or reviewed by anyone but the supervisor', () => {
    const late = verifyBreakGlass(access, listed(null), keys, new Date('2026-12-05T10:00:00Z'));
    expect(late.overdue).toBe(true);
    expect(late.check.summary).toMatch(/^PORTAL_REVIEW_OVERDUE: no review/);
    const lateReview = verifyBreakGlass(access, listed(review('2026-12-05T09:30:00Z')), keys, NOW);
    expect(lateReview.overdue).toBe(true);
    expect(lateReview.check.summary).toMatch(/^PORTAL_REVIEW_OVERDUE: reviewed at/);
    const unlisted = verifyBreakGlass(access, undefined, keys, NOW);
    expect(unlisted.check.summary).toMatch(/^PORTAL_BREAK_GLASS_UNLISTED/);
    const byCustomer = verifyBreakGlass(
      access,
      listed(review('2026-12-04T10:00:00Z', 'customer')),
      keys,
      NOW,
    );
    expect(byCustomer.check.summary).toMatch(/^PORTAL_REVIEW_INVALID/);
    const forged = review('2026-12-04T10:00:00Z');
    forged.envelope = forged.envelope.replace(/"sig":"(.)/, (_m, c: string) =>
      c === 'A' ? '"sig":"B' : '"sig":"A',
    );
    expect(verifyBreakGlass(access, listed(forged), keys, NOW).check.summary).toMatch(
      /^APPROVAL_SIGNATURE_INVALID/,
    );
    const wrongIndex = verifyBreakGlass(access, { ...listed(null), index: 8 }, keys, NOW);
    expect(wrongIndex.check.summary).toMatch(/^PORTAL_GATEWAY_INVALID/);
  });
});
