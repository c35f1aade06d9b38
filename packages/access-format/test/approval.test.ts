import { ed25519KeyPairFromSeed, keyId, signEd25519 } from '@glasshouse/residency';
import { describe, expect, it } from 'vitest';
import {
  accessRequestDigest,
  approvalEnvelope,
  approvalSigningMessage,
  checkAccess,
  demoAccessPolicy,
  encodeAccessPolicy,
  encodeAccessRequest,
  encodeApproval,
  openApproval,
  parseAccessPolicy,
  parseAccessRequest,
  requestStatus,
  type AccessRecord,
  type AccessRequest,
  type Approval,
} from '../src/index.js';
import { record } from './fixtures.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const supervisor = ed25519KeyPairFromSeed(new Uint8Array(32).fill(1));
const customerKeys = ed25519KeyPairFromSeed(new Uint8Array(32).fill(2));
const stranger = ed25519KeyPairFromSeed(new Uint8Array(32).fill(3));
const policy = demoAccessPolicy(supervisor.publicKey, '2026-12-01T00:00:00Z');
const NOW = '2026-12-04T10:00:00Z';

const base = record({ approval: null });
const request: AccessRequest = {
  schema: 'glasshouse.access-request/v1',
  site: base.site,
  customer: base.customer,
  dataClass: base.dataClass,
  scope: base.scope,
  accessor: base.accessor,
  justification: base.justification,
  requestedAt: '2026-12-04T09:00:00Z',
  expiresAt: '2026-12-04T12:00:00Z',
};
const requestBytes = encodeAccessRequest(request);
const digest = accessRequestDigest(requestBytes);
const approved: AccessRecord = { ...base, approval: digest };

function approve(
  role: 'customer' | 'supervisor',
  signer: { seed: Uint8Array; publicKey: Uint8Array },
  overrides: Partial<Approval> = {},
): string {
  const payload = encodeApproval({
    schema: 'glasshouse.access-approval/v1',
    request: digest,
    role,
    decision: 'approve',
    decidedAt: '2026-12-04T09:30:00Z',
    expiresAt: '2026-12-04T18:00:00Z',
    ...overrides,
  });
  return approvalEnvelope(payload, {
    keyid: keyId(signer.publicKey),
    sig: signEd25519(signer.seed, approvalSigningMessage(payload)),
  });
}

const both = [approve('customer', customerKeys), approve('supervisor', supervisor)];
const check = (over: Partial<Parameters<typeof checkAccess>[0]> = {}) =>
  checkAccess({
    policy,
    record: approved,
    request: requestBytes,
    approvals: both,
    customerKey: customerKeys.publicKey,
    now: NOW,
    ...over,
  });

describe('approvals and the access policy', () => {
  it('formats round-trip', () => {
    expect(parseAccessRequest(requestBytes)).toEqual(request);
    expect(parseAccessPolicy(encodeAccessPolicy(policy))).toEqual(policy);
    const opened = openApproval(both[0]!, {
      supervisor: [supervisor.publicKey],
      customer: customerKeys.publicKey,
    });
    expect(opened.approval.role).toBe('customer');
  });

  it('accepts an access with both approvals, break-glass and approval-free classes without', () => {
    expect(check()).toEqual({ breakGlass: false, approvedBy: ['customer', 'supervisor'] });
    const glass = record({
      approval: null,
      justification: { code: 'BREAK_GLASS', detail: 'outage' },
    });
    expect(check({ record: glass, approvals: [] })).toEqual({ breakGlass: true, approvedBy: [] });
    const threat = record({
      approval: null,
      dataClass: 'telemetry-events',
      justification: { code: 'THREAT_INVESTIGATION', detail: 'campaign' },
    });
    expect(check({ record: threat })).toEqual({ breakGlass: false, approvedBy: [] });
  });

  it('refuses with codes: class, justification, missing, forged, expired, denied, other scope', () => {
    const cases: [string, () => unknown, string][] = [
      [
        'unknown class',
        () => check({ record: { ...approved, dataClass: 'source-code' } }),
        'DATA_CLASS_NOT_ALLOWED',
      ],
      [
        'justification not allowed',
        () =>
          check({
            record: { ...approved, justification: { code: 'THREAT_INVESTIGATION', detail: 'x' } },
          }),
        'JUSTIFICATION_NOT_ALLOWED',
      ],
      ['no approval named', () => check({ record: base }), 'APPROVAL_MISSING'],
      ['no request', () => check({ request: undefined }), 'APPROVAL_MISSING'],
      ['one approver missing', () => check({ approvals: [both[0]!] }), 'APPROVAL_MISSING'],
      [
        'forged by a stranger',
        () => check({ approvals: [both[0]!, approve('supervisor', stranger)] }),
        'APPROVAL_SIGNATURE_INVALID',
      ],
      [
        'customer key as supervisor',
        () => check({ approvals: [both[0]!, approve('supervisor', customerKeys)] }),
        'APPROVAL_SIGNATURE_INVALID',
      ],
      ['expired approval', () => check({ now: '2026-12-04T19:00:00Z' }), 'APPROVAL_EXPIRED'],
      [
        'approved after the request expired',
        () =>
          check({
            approvals: [
              both[0]!,
              approve('supervisor', supervisor, {
                decidedAt: '2026-12-04T12:30:00Z',
                expiresAt: '2026-12-04T20:00:00Z',
              }),
            ],
            now: '2026-12-04T13:00:00Z',
          }),
        'APPROVAL_EXPIRED',
      ],
      [
        'validity beyond the policy',
        () =>
          check({
            approvals: [
              both[0]!,
              approve('supervisor', supervisor, { expiresAt: '2026-12-09T00:00:00Z' }),
            ],
          }),
        'APPROVAL_EXPIRED',
      ],
      [
        'denied',
        () =>
          check({ approvals: [...both, approve('customer', customerKeys, { decision: 'deny' })] }),
        'APPROVAL_DENIED',
      ],
      [
        'record names another request',
        () => check({ record: { ...approved, approval: `sha256:${'00'.repeat(32)}` } }),
        'APPROVAL_SCOPE_MISMATCH',
      ],
      [
        'request for another scope',
        () =>
          check({
            record: {
              ...approved,
              scope: {
                kind: 'time-range',
                from: '2026-12-01T00:00:00Z',
                to: '2026-12-02T00:00:00Z',
              },
            },
          }),
        'APPROVAL_SCOPE_MISMATCH',
      ],
      [
        'break-glass with an approval',
        () =>
          check({ record: { ...approved, justification: { code: 'BREAK_GLASS', detail: 'x' } } }),
        'APPROVAL_NOT_EXPECTED',
      ],
    ];
    for (const [what, fn, want] of cases) expect([what, code(fn)]).toEqual([what, want]);
  });

  it('counts a request as pending, approved, denied or expired from its decisions', () => {
    const at = (t: string) => Date.parse(t);
    const d = (role: string, decision: string, decidedAt: string, expiresAt: string) => ({
      role,
      decision,
      decidedAt,
      expiresAt,
    });
    const cust = d('customer', 'approve', '2026-12-04T09:30:00Z', '2026-12-04T18:00:00Z');
    const sup = d('supervisor', 'approve', '2026-12-04T09:40:00Z', '2026-12-04T18:00:00Z');
    expect(requestStatus(policy, request, [], at(NOW))).toBe('pending');
    // personal-fields needs both roles: one approval is not enough.
    expect(requestStatus(policy, request, [cust], at(NOW))).toBe('pending');
    expect(requestStatus(policy, request, [cust, sup], at(NOW))).toBe('approved');
    const deny = d('supervisor', 'deny', '2026-12-04T09:45:00Z', '2026-12-04T18:00:00Z');
    expect(requestStatus(policy, request, [cust, sup, deny], at(NOW))).toBe('denied');
    // Unanswered past its expiry; approvals past theirs.
    expect(requestStatus(policy, request, [cust], at('2026-12-04T13:00:00Z'))).toBe('expired');
    expect(requestStatus(policy, request, [cust, sup], at('2026-12-04T19:00:00Z'))).toBe('expired');
    // An approval decided after the request expired does not count.
    const late = d('supervisor', 'approve', '2026-12-04T12:30:00Z', '2026-12-04T18:00:00Z');
    expect(requestStatus(policy, request, [cust, late], at('2026-12-04T12:40:00Z'))).toBe(
      'expired',
    );
  });

  it('refuses malformed requests, approvals and policies', () => {
    const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
    const reqValue = JSON.parse(new TextDecoder().decode(requestBytes)) as Record<string, unknown>;
    expect(
      code(() =>
        parseAccessRequest(
          utf8(`${JSON.stringify({ ...reqValue, expiresAt: '2026-12-04T08:00:00Z' })}\n`),
        ),
      ),
    ).toBe('APPROVAL_REQUEST_INVALID');
    expect(code(() => parseAccessRequest(new Uint8Array(70_000)))).toBe('APPROVAL_REQUEST_INVALID');
    expect(code(() => parseAccessRequest(requestBytes.slice(0, -1)))).toBe(
      'APPROVAL_REQUEST_INVALID',
    );
    const keys = { supervisor: [supervisor.publicKey], customer: customerKeys.publicKey };
    const env = JSON.parse(both[1]!) as { signatures: unknown[] };
    expect(code(() => openApproval(JSON.stringify({ ...env, signatures: [] }), keys))).toBe(
      'APPROVAL_INVALID',
    );
    expect(
      code(() => openApproval(JSON.stringify({ ...env, payloadType: 'text/plain' }), keys)),
    ).toBe('APPROVAL_INVALID');
    expect(code(() => openApproval('x'.repeat(5000), keys))).toBe('APPROVAL_INVALID');
    const policyValue = JSON.parse(new TextDecoder().decode(encodeAccessPolicy(policy))) as {
      classes: unknown[];
    };
    expect(
      code(() =>
        parseAccessPolicy(
          utf8(
            `${JSON.stringify({ ...policyValue, classes: [...policyValue.classes].reverse() })}\n`,
          ),
        ),
      ),
    ).toBe('ACCESS_POLICY_INVALID');
    expect(
      code(() =>
        parseAccessPolicy(
          utf8(`${JSON.stringify({ ...policyValue, supervisorKeys: ['AAAA'] })}\n`),
        ),
      ),
    ).toBe('ACCESS_POLICY_INVALID');
  });
});
