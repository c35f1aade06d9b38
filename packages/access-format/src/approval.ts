/**
 * Approval requests and approvals (issue 17 §5). A request names the scope
 * and justification of an access to come; each approver the access policy
 * names for the data class (the supervisor, the customer, or both) signs an
 * approval statement over the request's digest with its own Ed25519 key,
 * as a DSSE envelope (secure-systems-lab/dsse, built with residency's
 * helpers). Requests expire when unanswered, approvals at their own expiry.
 */
import {
  buildEnvelope,
  bytesEqual,
  canonicalJson,
  CUSTOMER_PSEUDONYM,
  DIGEST,
  fromBase64,
  keyId,
  pae,
  serializeEnvelope,
  sha256Digest,
  SITE_ID,
  verifyEd25519,
  type DetachedSignature,
  type Json,
} from '@glasshouse/residency';
import { parseJsonBytes, utf8 } from './bytes.js';
import { array, exactObject, matching, preview, rfc3339, type Fail } from './check.js';
import { AccessFormatError } from './errors.js';
import {
  accessorJson,
  checkAccessor,
  checkJustification,
  checkScope,
  DATA_CLASS,
  justificationJson,
  scopeJson,
  type Accessor,
  type AccessScope,
  type Justification,
} from './record.js';

export const ACCESS_REQUEST_SCHEMA = 'glasshouse.access-request/v1';
export const APPROVAL_SCHEMA = 'glasshouse.access-approval/v1';
export const APPROVAL_PAYLOAD_TYPE = 'application/vnd.glasshouse.access-approval+json';
export const MAX_ACCESS_REQUEST_BYTES = 64 * 1024;
export const MAX_APPROVAL_BYTES = 1024;
export const MAX_APPROVAL_ENVELOPE_BYTES = 4 * 1024;

export const APPROVER_ROLES = ['customer', 'supervisor'] as const;
export type ApproverRole = (typeof APPROVER_ROLES)[number];

export interface AccessRequest {
  readonly schema: typeof ACCESS_REQUEST_SCHEMA;
  readonly site: string;
  readonly customer: string;
  readonly dataClass: string;
  readonly scope: AccessScope;
  readonly accessor: Accessor;
  readonly justification: Justification;
  readonly requestedAt: string;
  /** An unanswered request expires: no approval decided after this time counts. */
  readonly expiresAt: string;
}

export interface Approval {
  readonly schema: typeof APPROVAL_SCHEMA;
  /** `sha256:<hex>` of the request's exact bytes. */
  readonly request: string;
  readonly role: ApproverRole;
  readonly decision: 'approve' | 'deny';
  readonly decidedAt: string;
  readonly expiresAt: string;
}

const requestInvalid: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'APPROVAL_REQUEST_INVALID',
    `access request: ${what}`,
    evidence ? { evidence } : {},
  );
};
const approvalInvalid: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'APPROVAL_INVALID',
    `approval: ${what}`,
    evidence ? { evidence } : {},
  );
};

function requestJson(r: AccessRequest): Json {
  return {
    schema: r.schema,
    site: r.site,
    customer: r.customer,
    dataClass: r.dataClass,
    scope: scopeJson(r.scope),
    accessor: accessorJson(r.accessor),
    justification: justificationJson(r.justification),
    requestedAt: r.requestedAt,
    expiresAt: r.expiresAt,
  };
}

/** Canonical JSON + '\n': the bytes whose digest approvers sign and records name. */
export function encodeAccessRequest(request: AccessRequest): Uint8Array {
  return utf8(`${canonicalJson(requestJson(checkRequestValue(requestJson(request))))}\n`);
}

export function parseAccessRequest(bytes: Uint8Array): AccessRequest {
  if (bytes.length > MAX_ACCESS_REQUEST_BYTES) {
    requestInvalid('over the size limit', { size: bytes.length, max: MAX_ACCESS_REQUEST_BYTES });
  }
  const value = parseJsonBytes(
    bytes,
    (cause) =>
      new AccessFormatError('APPROVAL_REQUEST_INVALID', 'access request: not UTF-8 JSON', {
        cause,
      }),
  );
  const request = checkRequestValue(value);
  if (!bytesEqual(utf8(`${canonicalJson(requestJson(request))}\n`), bytes)) {
    requestInvalid('the request is not in canonical form');
  }
  return request;
}

/** `sha256:<hex>` of the request bytes: what approvals and the access record name. */
export function accessRequestDigest(bytes: Uint8Array): string {
  return sha256Digest(bytes);
}

function checkRequestValue(value: unknown): AccessRequest {
  const v = exactObject(
    value,
    'the request',
    [
      'schema',
      'site',
      'customer',
      'dataClass',
      'scope',
      'accessor',
      'justification',
      'requestedAt',
      'expiresAt',
    ],
    [],
    requestInvalid,
  );
  if (v.schema !== ACCESS_REQUEST_SCHEMA) requestInvalid(`schema is not ${ACCESS_REQUEST_SCHEMA}`);
  const requestedAt = rfc3339(v.requestedAt, 'requestedAt', requestInvalid);
  const expiresAt = rfc3339(v.expiresAt, 'expiresAt', requestInvalid);
  if (!(Date.parse(requestedAt) < Date.parse(expiresAt)))
    requestInvalid('expiresAt is not after requestedAt');
  return {
    schema: ACCESS_REQUEST_SCHEMA,
    site: matching(v.site, SITE_ID, 'site', requestInvalid),
    customer: matching(v.customer, CUSTOMER_PSEUDONYM, 'customer', requestInvalid),
    dataClass: matching(v.dataClass, DATA_CLASS, 'dataClass', requestInvalid),
    scope: checkScope(v.scope, requestInvalid),
    accessor: checkAccessor(v.accessor, requestInvalid),
    justification: checkJustification(v.justification, requestInvalid),
    requestedAt,
    expiresAt,
  };
}

function approvalJson(a: Approval): Json {
  return {
    schema: a.schema,
    request: a.request,
    role: a.role,
    decision: a.decision,
    decidedAt: a.decidedAt,
    expiresAt: a.expiresAt,
  };
}

/** The approval payload (canonical JSON + '\n'). */
export function encodeApproval(approval: Approval): Uint8Array {
  return utf8(`${canonicalJson(approvalJson(checkApprovalValue(approvalJson(approval))))}\n`);
}

export function parseApproval(bytes: Uint8Array): Approval {
  if (bytes.length > MAX_APPROVAL_BYTES)
    approvalInvalid('over the size limit', { size: bytes.length });
  const value = parseJsonBytes(
    bytes,
    (cause) => new AccessFormatError('APPROVAL_INVALID', 'approval: not UTF-8 JSON', { cause }),
  );
  const approval = checkApprovalValue(value);
  if (!bytesEqual(utf8(`${canonicalJson(approvalJson(approval))}\n`), bytes)) {
    approvalInvalid('the approval is not in canonical form');
  }
  return approval;
}

function checkApprovalValue(value: unknown): Approval {
  const v = exactObject(
    value,
    'the approval',
    ['schema', 'request', 'role', 'decision', 'decidedAt', 'expiresAt'],
    [],
    approvalInvalid,
  );
  if (v.schema !== APPROVAL_SCHEMA) approvalInvalid(`schema is not ${APPROVAL_SCHEMA}`);
  if (v.role !== 'customer' && v.role !== 'supervisor')
    approvalInvalid('unknown role', { role: preview(v.role) });
  if (v.decision !== 'approve' && v.decision !== 'deny') {
    approvalInvalid('decision is neither approve nor deny', { decision: preview(v.decision) });
  }
  const decidedAt = rfc3339(v.decidedAt, 'decidedAt', approvalInvalid);
  const expiresAt = rfc3339(v.expiresAt, 'expiresAt', approvalInvalid);
  if (!(Date.parse(decidedAt) < Date.parse(expiresAt)))
    approvalInvalid('expiresAt is not after decidedAt');
  return {
    schema: APPROVAL_SCHEMA,
    request: matching(v.request, DIGEST, 'request', approvalInvalid),
    role: v.role,
    decision: v.decision,
    decidedAt,
    expiresAt,
  };
}

/** What an approver signs: DSSE PAE of the approval payload. */
export function approvalSigningMessage(payload: Uint8Array): Uint8Array {
  return pae(APPROVAL_PAYLOAD_TYPE, payload);
}

/** The DSSE envelope text of an approval with the approver's signature made elsewhere. */
export function approvalEnvelope(payload: Uint8Array, signature: DetachedSignature): string {
  parseApproval(payload);
  return serializeEnvelope(buildEnvelope(APPROVAL_PAYLOAD_TYPE, payload, [signature]));
}

export interface ApproverKeys {
  /** The supervisor's approval keys (raw 32-byte Ed25519), from the access policy. */
  readonly supervisor: readonly Uint8Array[];
  /** The customer's key (raw 32-byte Ed25519), from its logged enrollment. */
  readonly customer: Uint8Array;
}

export interface OpenedApproval {
  readonly approval: Approval;
  readonly payload: Uint8Array;
  readonly signer: Uint8Array;
}

/**
 * Opens an approval envelope: exactly one signature (DSSE protocol.md),
 * by a key of the role the payload names (APPROVAL_SIGNATURE_INVALID for
 * any other key or a failed signature).
 */
export function openApproval(envelope: string | Uint8Array, keys: ApproverKeys): OpenedApproval {
  const bytes = typeof envelope === 'string' ? utf8(envelope) : envelope;
  if (bytes.length > MAX_APPROVAL_ENVELOPE_BYTES) approvalInvalid('envelope over the size limit');
  const value = parseJsonBytes(
    bytes,
    (cause) =>
      new AccessFormatError('APPROVAL_INVALID', 'approval: envelope is not JSON', { cause }),
  );
  // DSSE envelope.md: payload, payloadType, signatures.
  const v = exactObject(
    value,
    'the envelope',
    ['payload', 'payloadType', 'signatures'],
    [],
    approvalInvalid,
  );
  if (v.payloadType !== APPROVAL_PAYLOAD_TYPE)
    approvalInvalid('payloadType is not the approval type');
  const [sig] = array(v.signatures, 1, 1, 'signatures', approvalInvalid);
  const s = exactObject(sig, 'the signature', ['keyid', 'sig'], [], approvalInvalid);
  const payload = typeof v.payload === 'string' ? fromBase64(v.payload) : undefined;
  const signature = typeof s.sig === 'string' ? fromBase64(s.sig) : undefined;
  if (payload === undefined || signature === undefined)
    approvalInvalid('payload or sig is not base64');
  const approval = parseApproval(payload);
  const candidates = approval.role === 'customer' ? [keys.customer] : keys.supervisor;
  const signer = candidates.find((k) => keyId(k) === s.keyid);
  // DSSE protocol.md "Signature verification": the signature must verify under a trusted key.
  if (signer === undefined || !verifyEd25519(signer, approvalSigningMessage(payload), signature)) {
    throw new AccessFormatError(
      'APPROVAL_SIGNATURE_INVALID',
      `no valid signature of the ${approval.role}`,
      {
        evidence: { role: approval.role, keyid: preview(s.keyid), request: approval.request },
      },
    );
  }
  return { approval, payload: payload, signer };
}
