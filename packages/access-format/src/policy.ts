/**
 * The access policy (issue 17 §3, §5): for each data class, the
 * justification codes allowed and the approvers needed (the supervisor,
 * the customer, or both), with the longest approval validity; and the
 * supervisor's approval keys. Canonical JSON + '\n'.
 */
import {
  bytesEqual,
  canonicalJson,
  decodePublicKey,
  encodePublicKey,
  type Json,
} from '@glasshouse/residency';
import { parseJsonBytes, utf8 } from './bytes.js';
import { array, exactObject, integer, matching, preview, rfc3339, type Fail } from './check.js';
import { AccessFormatError } from './errors.js';
import { APPROVER_ROLES, type ApproverRole } from './approval.js';
import { DATA_CLASS, JUSTIFICATION_CODES, type JustificationCode } from './record.js';

export const ACCESS_POLICY_SCHEMA = 'glasshouse.access-policy/v1';
export const MAX_ACCESS_POLICY_BYTES = 64 * 1024;

export interface ClassRule {
  readonly dataClass: string;
  /** Roles whose approval is needed, in APPROVER_ROLES order; empty = none. */
  readonly approvers: readonly ApproverRole[];
  /** Justification codes allowed for this class, in JUSTIFICATION_CODES order. */
  readonly justifications: readonly JustificationCode[];
  /** Longest validity of one approval, in seconds. */
  readonly maxApprovalSeconds: number;
}

export interface AccessPolicy {
  readonly schema: typeof ACCESS_POLICY_SCHEMA;
  readonly version: number;
  readonly issuedAt: string;
  /** The supervisor's approval keys, raw 32-byte Ed25519. */
  readonly supervisorKeys: readonly Uint8Array[];
  /** One rule per class, ascending by class name. */
  readonly classes: readonly ClassRule[];
}

const invalid: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'ACCESS_POLICY_INVALID',
    `access policy: ${what}`,
    evidence ? { evidence } : {},
  );
};

function policyJson(p: AccessPolicy): Json {
  return {
    schema: p.schema,
    version: p.version,
    issuedAt: p.issuedAt,
    supervisorKeys: p.supervisorKeys.map((k) => encodePublicKey(k)),
    classes: p.classes.map((c) => ({
      dataClass: c.dataClass,
      approvers: [...c.approvers],
      justifications: [...c.justifications],
      maxApprovalSeconds: c.maxApprovalSeconds,
    })),
  };
}

export function encodeAccessPolicy(policy: AccessPolicy): Uint8Array {
  return utf8(`${canonicalJson(policyJson(checkPolicyValue(policyJson(policy))))}\n`);
}

export function parseAccessPolicy(bytes: Uint8Array): AccessPolicy {
  if (bytes.length > MAX_ACCESS_POLICY_BYTES)
    invalid('over the size limit', { size: bytes.length });
  const value = parseJsonBytes(
    bytes,
    (cause) =>
      new AccessFormatError('ACCESS_POLICY_INVALID', 'access policy: not UTF-8 JSON', { cause }),
  );
  const policy = checkPolicyValue(value);
  if (!bytesEqual(utf8(`${canonicalJson(policyJson(policy))}\n`), bytes))
    invalid('not in canonical form');
  return policy;
}

/** `list` holds unique items of `order`, in that order (one encoding per policy). */
function ordered<T extends string>(list: unknown[], order: readonly T[], what: string): T[] {
  let last = -1;
  for (const item of list) {
    const at = order.indexOf(item as T);
    if (at < 0) invalid(`${what} has an unknown item`, { item: preview(item) });
    if (at <= last) invalid(`${what} is not unique and in the documented order`);
    last = at;
  }
  return list as T[];
}

function checkPolicyValue(value: unknown): AccessPolicy {
  const v = exactObject(
    value,
    'the policy',
    ['schema', 'version', 'issuedAt', 'supervisorKeys', 'classes'],
    [],
    invalid,
  );
  if (v.schema !== ACCESS_POLICY_SCHEMA) invalid(`schema is not ${ACCESS_POLICY_SCHEMA}`);
  const supervisorKeys = array(v.supervisorKeys, 1, 8, 'supervisorKeys', invalid).map((k) => {
    try {
      return decodePublicKey(typeof k === 'string' ? k : '');
    } catch (cause) {
      return invalid('a supervisor key is not a base64 raw Ed25519 key', { cause });
    }
  });
  const classes = array(v.classes, 1, 64, 'classes', invalid).map((c, i): ClassRule => {
    const r = exactObject(
      c,
      `classes[${i}]`,
      ['dataClass', 'approvers', 'justifications', 'maxApprovalSeconds'],
      [],
      invalid,
    );
    return {
      dataClass: matching(r.dataClass, DATA_CLASS, `classes[${i}].dataClass`, invalid),
      approvers: ordered(
        array(r.approvers, 0, 2, 'approvers', invalid),
        APPROVER_ROLES,
        'approvers',
      ),
      justifications: ordered(
        array(r.justifications, 1, 6, 'justifications', invalid),
        JUSTIFICATION_CODES,
        'justifications',
      ),
      maxApprovalSeconds: integer(
        r.maxApprovalSeconds,
        1,
        `classes[${i}].maxApprovalSeconds`,
        invalid,
      ),
    };
  });
  for (let i = 1; i < classes.length; i++) {
    if ((classes[i - 1] as ClassRule).dataClass >= (classes[i] as ClassRule).dataClass) {
      invalid('classes are not ascending and unique by dataClass');
    }
  }
  return {
    schema: ACCESS_POLICY_SCHEMA,
    version: integer(v.version, 1, 'version', invalid),
    issuedAt: rfc3339(v.issuedAt, 'issuedAt', invalid),
    supervisorKeys,
    classes,
  };
}

/**
 * The demo policy: personal fields need the customer's and the
 * supervisor's approval (break-glass excepted), telemetry events the
 * supervisor's for customer support, none for threat investigation.
 */
export function demoAccessPolicy(supervisorKey: Uint8Array, issuedAt: string): AccessPolicy {
  return {
    schema: ACCESS_POLICY_SCHEMA,
    version: 1,
    issuedAt,
    supervisorKeys: [supervisorKey],
    classes: [
      {
        dataClass: 'personal-fields',
        approvers: ['customer', 'supervisor'],
        justifications: [
          'CUSTOMER_INITIATED_SUPPORT',
          'LEGAL_REQUEST',
          'SUPERVISOR_AUDIT',
          'BREAK_GLASS',
        ],
        maxApprovalSeconds: 86_400,
      },
      {
        dataClass: 'telemetry-events',
        approvers: [],
        justifications: [
          'CUSTOMER_INITIATED_SUPPORT',
          'THREAT_INVESTIGATION',
          'LEGAL_REQUEST',
          'SERVICE_OPERATION',
          'SUPERVISOR_AUDIT',
          'BREAK_GLASS',
        ],
        maxApprovalSeconds: 86_400,
      },
    ],
  };
}
