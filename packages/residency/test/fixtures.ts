// Shared test fixtures: real keys, real signatures, the demo policy.
import {
  customerPseudonym,
  demoPolicy,
  encodeEnrollment,
  encodePolicy,
  encodePublicKey,
  encodeResidencyLogEntry,
  ENROLLMENT_SCHEMA,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  generateEd25519KeyPair,
  keyId,
  policyEnvelope,
  policySigningMessage,
  RESIDENCY_LOG_SCHEMA,
  signEd25519,
  toBase64,
  type DsseEnvelope,
  type Ed25519KeyPair,
  type Enrollment,
  type ResidencyPolicy,
  type Site,
} from '../src/index.js';

export const vendor = generateEd25519KeyPair();
export const supervisor = generateEd25519KeyPair();
export const keys = { vendorKey: vendor.publicKey, supervisorKey: supervisor.publicKey };

export function verifierKey(name: string): string {
  const key = new Uint8Array(33);
  key[0] = 1;
  key.fill(7, 1);
  return `${name}+0a1b2c3d+${toBase64(key)}`;
}

export function site(id: string, country: string, port: number): Site {
  return {
    id,
    country,
    verifierKey: verifierKey(`localhost/glasshouse/site/${id}`),
    ingestUrl: `http://127.0.0.1:${port}/`,
  };
}

export const zurich = site('ch-zrh', 'CH', 8451);
export const other = site('us-iad', 'US', 8452);
export const policyV1: ResidencyPolicy = demoPolicy({
  zurich,
  other,
  issuedAt: '2026-12-04T17:00:00Z',
});

export function sign(
  signer: Ed25519KeyPair,
  message: Uint8Array,
): { keyid: string; sig: Uint8Array } {
  return { keyid: keyId(signer.publicKey), sig: signEd25519(signer.seed, message) };
}

/** The envelope text of `policy` signed by `signers`. */
export function signedPolicy(
  policy: ResidencyPolicy,
  signers: readonly Ed25519KeyPair[] = [vendor, supervisor],
): string {
  const payload = encodePolicy(policy);
  const message = policySigningMessage(payload);
  return policyEnvelope(
    payload,
    signers.map((s) => sign(s, message)),
  );
}

export function enrollmentOf(customer: Ed25519KeyPair, region: string, sequence = 1): Enrollment {
  return {
    schema: ENROLLMENT_SCHEMA,
    customer: customerPseudonym(customer.publicKey),
    customerKey: encodePublicKey(customer.publicKey),
    region,
    enrolledAt: '2026-12-04T17:05:00Z',
    sequence,
  };
}

export function signedEnrollment(
  enrollment: Enrollment,
  signers: readonly Ed25519KeyPair[],
): string {
  const payload = encodeEnrollment(enrollment);
  const message = enrollmentSigningMessage(payload);
  return enrollmentEnvelope(
    payload,
    signers.map((s) => sign(s, message)),
  );
}

export function logEntry(kind: 'policy' | 'enrollment', envelopeText: string): Uint8Array {
  return encodeResidencyLogEntry({
    schema: RESIDENCY_LOG_SCHEMA,
    kind,
    envelope: JSON.parse(envelopeText) as DsseEnvelope,
  });
}
