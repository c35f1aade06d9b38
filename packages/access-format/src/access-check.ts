/**
 * The access check (issue 17 §3–§5): does an access record meet the access
 * policy, with the approvals it needs? The gateway runs it before appending
 * the record, the key release before opening keys, the supervisor's monitor
 * on every logged record. Pure: `now` is an argument.
 */
import { canonicalJson } from '@glasshouse/residency';
import {
  accessRequestDigest,
  APPROVER_ROLES,
  openApproval,
  parseAccessRequest,
  type ApproverKeys,
  type AccessRequest,
  type ApproverRole,
  type OpenedApproval,
} from './approval.js';
import { rfc3339, type Fail } from './check.js';
import { AccessFormatError } from './errors.js';
import type { AccessPolicy } from './policy.js';
import { accessorJson, justificationJson, scopeJson, type AccessRecord } from './record.js';

export interface AccessCheckInput {
  readonly policy: AccessPolicy;
  readonly record: AccessRecord;
  /** The approval request's exact bytes, when the record names one. */
  readonly request?: Uint8Array;
  /** Approval envelopes (DSSE text or bytes) for that request. */
  readonly approvals?: readonly (string | Uint8Array)[];
  /** The customer's key (from its logged enrollment), for customer approvals. */
  readonly customerKey: Uint8Array;
  /** RFC 3339 UTC: the time of the check. */
  readonly now: string;
}

export interface AccessDecision {
  readonly breakGlass: boolean;
  /** Roles whose valid approval was found (empty when none was needed). */
  readonly approvedBy: readonly ApproverRole[];
}

const badNow: Fail = (what) => {
  throw new TypeError(`checkAccess: ${what}`);
};

/**
 * Checks, in order: the class is in the policy (DATA_CLASS_NOT_ALLOWED);
 * the justification code is allowed for it (JUSTIFICATION_NOT_ALLOWED);
 * BREAK_GLASS and classes without approvers carry no approval
 * (APPROVAL_NOT_EXPECTED); otherwise the record names the request
 * (APPROVAL_MISSING), the request is the record's access
 * (APPROVAL_SCOPE_MISMATCH), and each required role approved it in time and
 * the approval is still valid (APPROVAL_DENIED, APPROVAL_EXPIRED,
 * APPROVAL_MISSING, APPROVAL_SIGNATURE_INVALID).
 */
export function checkAccess(input: AccessCheckInput): AccessDecision {
  const { policy, record } = input;
  const now = Date.parse(rfc3339(input.now, 'now', badNow));
  const rule = policy.classes.find((c) => c.dataClass === record.dataClass);
  if (rule === undefined) {
    throw new AccessFormatError(
      'DATA_CLASS_NOT_ALLOWED',
      'the access policy does not list this data class',
      {
        evidence: { dataClass: record.dataClass, policyVersion: policy.version },
      },
    );
  }
  if (!rule.justifications.includes(record.justification.code)) {
    throw new AccessFormatError(
      'JUSTIFICATION_NOT_ALLOWED',
      'this justification is not allowed for the class',
      {
        evidence: { dataClass: record.dataClass, code: record.justification.code },
      },
    );
  }
  // Issue 17 §5: break-glass needs no approval, and is logged as such.
  const breakGlass = record.justification.code === 'BREAK_GLASS';
  if (breakGlass || rule.approvers.length === 0) {
    if (record.approval !== null) {
      throw new AccessFormatError('APPROVAL_NOT_EXPECTED', 'this access takes no approval', {
        evidence: { dataClass: record.dataClass, code: record.justification.code },
      });
    }
    return { breakGlass, approvedBy: [] };
  }
  if (record.approval === null || input.request === undefined) {
    throw new AccessFormatError('APPROVAL_MISSING', 'this access needs an approved request', {
      evidence: { dataClass: record.dataClass, approvers: rule.approvers },
    });
  }
  const digest = accessRequestDigest(input.request);
  if (digest !== record.approval) {
    throw new AccessFormatError('APPROVAL_SCOPE_MISMATCH', 'the record names another request', {
      evidence: { record: record.approval, request: digest },
    });
  }
  const request = parseAccessRequest(input.request);
  const same = (a: unknown, b: unknown): boolean =>
    canonicalJson(a as Parameters<typeof canonicalJson>[0]) ===
    canonicalJson(b as Parameters<typeof canonicalJson>[0]);
  if (
    request.site !== record.site ||
    request.customer !== record.customer ||
    request.dataClass !== record.dataClass ||
    !same(scopeJson(request.scope), scopeJson(record.scope)) ||
    !same(accessorJson(request.accessor), accessorJson(record.accessor)) ||
    !same(justificationJson(request.justification), justificationJson(record.justification))
  ) {
    throw new AccessFormatError(
      'APPROVAL_SCOPE_MISMATCH',
      'the approved request is not this access',
      {
        evidence: { request: digest },
      },
    );
  }
  const keys: ApproverKeys = { supervisor: policy.supervisorKeys, customer: input.customerKey };
  const opened: OpenedApproval[] = (input.approvals ?? []).map((e) => openApproval(e, keys));
  const approvedBy: ApproverRole[] = [];
  for (const role of APPROVER_ROLES) {
    if (!rule.approvers.includes(role)) continue;
    const mine = opened.filter((o) => o.approval.role === role && o.approval.request === digest);
    const denied = mine.find((o) => o.approval.decision === 'deny');
    if (denied !== undefined) {
      throw new AccessFormatError('APPROVAL_DENIED', `the ${role} denied the request`, {
        evidence: { role, request: digest, decidedAt: denied.approval.decidedAt },
      });
    }
    if (mine.length === 0) {
      throw new AccessFormatError('APPROVAL_MISSING', `no approval of the ${role}`, {
        evidence: { role, request: digest },
      });
    }
    // Issue 17 §5: approvals and unanswered requests expire.
    const valid = mine.find((o) => {
      const decided = Date.parse(o.approval.decidedAt);
      const expires = Date.parse(o.approval.expiresAt);
      return (
        decided <= Date.parse(request.expiresAt) &&
        decided <= now &&
        now < expires &&
        expires - decided <= rule.maxApprovalSeconds * 1000
      );
    });
    if (valid === undefined) {
      throw new AccessFormatError('APPROVAL_EXPIRED', `the ${role}'s approval is not valid now`, {
        evidence: { role, request: digest, now: input.now, requestExpiresAt: request.expiresAt },
      });
    }
    approvedBy.push(role);
  }
  return { breakGlass, approvedBy };
}

/** Where an approval request stands (issue 17 §5). */
export type RequestStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** One approver's decision on a request, as read from its verified approval envelope. */
export interface RequestDecision {
  readonly role: string;
  readonly decision: string;
  readonly decidedAt: string;
  readonly expiresAt: string;
}

/**
 * A request's status from its decisions under the policy's rule for its
 * class: `denied` once a required role denied; `approved` when every
 * required role approved before the request expired and that approval is
 * still valid at `now` (milliseconds since the epoch); `expired` when the
 * request expired unanswered or every approval given has expired;
 * `pending` otherwise. The decisions must already be verified (openApproval):
 * this only counts them.
 */
export function requestStatus(
  policy: AccessPolicy,
  request: AccessRequest,
  decisions: readonly RequestDecision[],
  now: number,
): RequestStatus {
  const rule = policy.classes.find((c) => c.dataClass === request.dataClass);
  const roles: readonly string[] = rule?.approvers ?? [];
  if (decisions.some((d) => d.decision === 'deny' && roles.includes(d.role))) return 'denied';
  const approved = roles.every((role) =>
    decisions.some(
      (d) =>
        d.role === role &&
        d.decision === 'approve' &&
        Date.parse(d.decidedAt) <= Date.parse(request.expiresAt) &&
        now < Date.parse(d.expiresAt),
    ),
  );
  if (approved && roles.length > 0) return 'approved';
  if (Date.parse(request.expiresAt) <= now) return 'expired';
  const anyApproval = decisions.some((d) => d.decision === 'approve');
  return anyApproval && roles.length > 0 && decisions.every((d) => Date.parse(d.expiresAt) <= now)
    ? 'expired'
    : 'pending';
}
