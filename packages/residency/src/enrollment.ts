/**
 * Enrollment: a customer (by pseudonym) and its region, signed by the
 * customer's key AND the vendor's residency key, logged in the residency
 * log. Neither party alone can place or re-home a customer.
 */
import { canonicalJson, parseJsonBytes, utf8 } from './bytes.js';
import { exactObject, matching, positiveInteger, preview, rfc3339, type Fail } from './check.js';
import {
  buildEnvelope,
  checkEnvelope,
  pae,
  parseEnvelopeText,
  serializeEnvelope,
  verifyParties,
  type DetachedSignature,
  type DsseEnvelope,
  type DsseSignature,
} from './dsse.js';
import { ResidencyError } from './errors.js';
import { CUSTOMER_PSEUDONYM, customerPseudonym, decodePublicKey, keyId } from './keys.js';
import { assertKnownRegion, REGION_CODE } from './regions.js';

export const ENROLLMENT_PAYLOAD_TYPE = 'application/vnd.glasshouse.enrollment+json';
export const ENROLLMENT_SCHEMA = 'glasshouse.enrollment/v1';
export const MAX_ENROLLMENT_BYTES = 4 * 1024;
export const MAX_ENROLLMENT_ENVELOPE_BYTES = 16 * 1024;

export interface Enrollment {
  readonly schema: typeof ENROLLMENT_SCHEMA;
  /** Pseudonym of `customerKey` (`c-` + 32 hex). */
  readonly customer: string;
  /** Base64 raw 32-byte Ed25519 public key of the customer. */
  readonly customerKey: string;
  readonly region: string;
  readonly enrolledAt: string;
  /** 1 for the first enrollment, +1 per re-enrollment of this customer. */
  readonly sequence: number;
}

export interface OpenedEnrollment {
  readonly enrollment: Enrollment;
  readonly payload: Uint8Array;
  /** The raw customer key the payload names. */
  readonly customerKey: Uint8Array;
}

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'ENROLLMENT_INVALID',
    `enrollment: ${what}`,
    evidence ? { evidence } : {},
  );
};

function enrollmentJson(e: Enrollment): Parameters<typeof canonicalJson>[0] {
  return {
    schema: e.schema,
    customer: e.customer,
    customerKey: e.customerKey,
    region: e.region,
    enrolledAt: e.enrolledAt,
    sequence: e.sequence,
  };
}

/** The payload bytes the customer and the vendor sign: canonical JSON + '\n'. */
export function encodeEnrollment(enrollment: Enrollment): Uint8Array {
  checkEnrollmentValue(enrollment);
  return utf8(`${canonicalJson(enrollmentJson(enrollment))}\n`);
}

/**
 * Parses an enrollment payload: size cap, schema, the pseudonym is the
 * key's, the region is in the table (REGION_UNKNOWN), canonical bytes.
 */
export function parseEnrollment(bytes: Uint8Array): Enrollment {
  if (bytes.length > MAX_ENROLLMENT_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_ENROLLMENT_BYTES });
  }
  const { value, text } = parseJsonBytes(
    bytes,
    (cause) => new ResidencyError('ENROLLMENT_INVALID', 'enrollment: not UTF-8 JSON', { cause }),
  );
  const enrollment = checkEnrollmentValue(value);
  if (text !== `${canonicalJson(enrollmentJson(enrollment))}\n`) {
    invalid('the payload is not in canonical form');
  }
  return enrollment;
}

function checkEnrollmentValue(value: unknown): Enrollment {
  const v = exactObject(
    value,
    'the enrollment',
    ['schema', 'customer', 'customerKey', 'region', 'enrolledAt', 'sequence'],
    [],
    invalid,
  );
  if (v.schema !== ENROLLMENT_SCHEMA)
    invalid(`schema is not ${ENROLLMENT_SCHEMA}`, { schema: preview(v.schema) });
  const customer = matching(v.customer, CUSTOMER_PSEUDONYM, 'customer', invalid);
  let key: Uint8Array;
  try {
    key = decodePublicKey(typeof v.customerKey === 'string' ? v.customerKey : '');
  } catch (cause) {
    throw new ResidencyError(
      'ENROLLMENT_INVALID',
      'enrollment: customerKey is not a base64 Ed25519 key',
      {
        cause,
      },
    );
  }
  // DATA-HALF "Enrollment": customer = `c-` + first 32 hex of SHA-256(raw customer key).
  if (customerPseudonym(key) !== customer) {
    invalid('customer is not the pseudonym of customerKey', {
      customer,
      expected: customerPseudonym(key),
    });
  }
  const region = matching(v.region, REGION_CODE, 'region', invalid);
  assertKnownRegion(region);
  return {
    schema: ENROLLMENT_SCHEMA,
    customer,
    customerKey: v.customerKey as string,
    region,
    enrolledAt: rfc3339(v.enrolledAt, 'enrolledAt', invalid),
    sequence: positiveInteger(v.sequence, 'sequence', invalid),
  };
}

/** What the customer and the vendor each sign: DSSE PAE of the payload. */
export function enrollmentSigningMessage(payload: Uint8Array): Uint8Array {
  return pae(ENROLLMENT_PAYLOAD_TYPE, payload);
}

/** The DSSE envelope text of an enrollment payload with signatures made elsewhere. */
export function enrollmentEnvelope(
  payload: Uint8Array,
  signatures: readonly DetachedSignature[],
): string {
  return serializeEnvelope(buildEnvelope(ENROLLMENT_PAYLOAD_TYPE, payload, signatures));
}

function checkEnrollmentEnvelope(envelope: string | Uint8Array | DsseEnvelope): {
  envelope: DsseEnvelope;
  payload: Uint8Array;
  opened: OpenedEnrollment;
} {
  const value =
    typeof envelope === 'string' || envelope instanceof Uint8Array
      ? parseEnvelopeText(envelope, MAX_ENROLLMENT_ENVELOPE_BYTES, 'ENROLLMENT_INVALID')
      : envelope;
  const checked = checkEnvelope(
    value,
    ENROLLMENT_PAYLOAD_TYPE,
    'ENROLLMENT_INVALID',
    MAX_ENROLLMENT_BYTES,
  );
  const enrollment = parseEnrollment(checked.payload);
  const customerKey = decodePublicKey(enrollment.customerKey);
  return { ...checked, opened: { enrollment, payload: checked.payload, customerKey } };
}

/**
 * Opens a fully signed enrollment (text, or the envelope object of a log
 * entry): both the customer (the key the payload names) and the vendor must
 * have signed (ENROLLMENT_SIGNATURE_MISSING / _INVALID).
 */
export function openEnrollmentEnvelope(
  envelope: string | Uint8Array | DsseEnvelope,
  keys: { readonly vendorKey: Uint8Array },
): OpenedEnrollment {
  const checked = checkEnrollmentEnvelope(envelope);
  verifyParties(
    checked.envelope,
    checked.payload,
    [
      { name: 'customer', key: checked.opened.customerKey },
      { name: 'vendor', key: keys.vendorKey },
    ],
    { missing: 'ENROLLMENT_SIGNATURE_MISSING', invalid: 'ENROLLMENT_SIGNATURE_INVALID' },
  );
  return checked.opened;
}

/**
 * Opens an enrollment the customer signed and the vendor has not yet (what
 * the router receives): checks the customer's signature and returns it, so
 * the router can add its own with `enrollmentEnvelope(payload, [customer, vendor])`.
 */
export function openCustomerEnrollment(
  envelope: string | Uint8Array | DsseEnvelope,
): OpenedEnrollment & { readonly customerSignature: DsseSignature } {
  const checked = checkEnrollmentEnvelope(envelope);
  verifyParties(
    checked.envelope,
    checked.payload,
    [{ name: 'customer', key: checked.opened.customerKey }],
    { missing: 'ENROLLMENT_SIGNATURE_MISSING', invalid: 'ENROLLMENT_SIGNATURE_INVALID' },
  );
  const id = keyId(checked.opened.customerKey);
  const customerSignature = checked.envelope.signatures.find((s) => s.keyid === id);
  if (customerSignature === undefined) {
    // verifyParties found it; kept for the type checker.
    throw new ResidencyError('ENROLLMENT_SIGNATURE_MISSING', "no customer's signature");
  }
  return { ...checked.opened, customerSignature };
}
