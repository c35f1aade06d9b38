/**
 * The enrollment endpoint's work: check the customer's signature, co-sign
 * with the vendor's residency key, append the entry to the residency log,
 * and answer only once the router's own verified view holds it under a
 * witnessed checkpoint (so the receipt the customer keeps meets the quorum).
 */
import {
  RESIDENCY_LOG_SCHEMA,
  assertKnownRegion,
  encodeResidencyLogEntry,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  keyId,
  openCustomerEnrollment,
  signEd25519,
  type DsseEnvelope,
} from '@glasshouse/residency';
import { type LogClient, LogError } from '@glasshouse/log';
import { CodedError } from '@glasshouse/errors';
import { TelemetryError } from '../errors.js';
import type { ResidencyView } from '../view/view.js';
import { mapResidency } from './router.js';

export interface EnrollDeps {
  readonly view: ResidencyView;
  readonly log: LogClient;
  /** The vendor's residency signing key: the raw 32-byte Ed25519 seed and its public key. */
  readonly vendorSeed: Uint8Array;
  readonly vendorPublicKey: Uint8Array;
  /** How long to wait for the witnessed checkpoint. */
  readonly timeoutMs: number;
}

export interface Enrolled {
  readonly index: bigint;
  /** c2sp.org/tlog-proof of the entry against a witnessed checkpoint. */
  readonly receipt: string;
}

export async function enroll(deps: EnrollDeps, text: string): Promise<Enrolled> {
  let opened;
  try {
    opened = openCustomerEnrollment(text);
    assertKnownRegion(opened.enrollment.region);
  } catch (err) {
    throw mapResidency(err, {});
  }
  const { enrollment } = opened;
  await deps.view.refresh().catch(() => undefined);
  const last = deps.view.enrollment(enrollment.customer);
  const expected = (last?.enrollment.sequence ?? 0) + 1;
  if (last !== undefined && last.enrollment.sequence === enrollment.sequence) {
    // The same enrollment again (a retry after a lost answer): its receipt, no second entry.
    if (
      last.enrollment.region === enrollment.region &&
      last.enrollment.enrolledAt === enrollment.enrolledAt &&
      last.enrollment.customerKey === enrollment.customerKey
    ) {
      return { index: last.index, receipt: await receiptOf(deps, last.index) };
    }
  }
  if (enrollment.sequence !== expected) {
    throw new TelemetryError(
      'ENROLLMENT_SEQUENCE_BROKEN',
      `the next enrollment of this customer has sequence ${expected}`,
      { evidence: { customer: enrollment.customer, expected, actual: enrollment.sequence } },
    );
  }
  if (last !== undefined && last.enrollment.customerKey !== enrollment.customerKey) {
    throw new TelemetryError(
      'ENROLLMENT_INVALID',
      'a re-enrollment must be signed by the first key',
      {
        evidence: { customer: enrollment.customer },
      },
    );
  }
  // DATA-HALF "Enrollment": the customer's signature and the vendor's, both required.
  const vendorSig = signEd25519(deps.vendorSeed, enrollmentSigningMessage(opened.payload));
  const envelopeText = enrollmentEnvelope(opened.payload, [
    opened.customerSignature,
    { keyid: keyId(deps.vendorPublicKey), sig: vendorSig },
  ]);
  const entry = encodeResidencyLogEntry({
    schema: RESIDENCY_LOG_SCHEMA,
    kind: 'enrollment',
    envelope: JSON.parse(envelopeText) as DsseEnvelope,
  });
  let index: bigint;
  try {
    index = (await deps.log.add(entry, { dedup: true })).index;
  } catch (err) {
    if (!(err instanceof LogError)) throw err;
    throw new TelemetryError('RESIDENCY_LOG_FAILED', 'the residency log did not take the entry', {
      cause: err,
      evidence: { ...err.evidence },
    });
  }
  try {
    await deps.view.waitForSize(index + 1n, deps.timeoutMs);
  } catch (err) {
    if (!(err instanceof CodedError)) throw err;
    throw new TelemetryError(
      'ENROLLMENT_NOT_WITNESSED',
      'the enrollment is logged but no checkpoint meeting the witness quorum covers it yet',
      {
        cause: err,
        evidence: { index: index.toString(), lastError: deps.view.lastError?.code ?? null },
      },
    );
  }
  const applied = deps.view.enrollment(enrollment.customer);
  if (applied?.index !== index) {
    const refused = deps.view.refused.find((r) => r.index === index);
    throw new TelemetryError(
      'ENROLLMENT_INVALID',
      'the logged enrollment was refused by the view',
      {
        evidence: { index: index.toString(), code: refused?.code ?? null },
      },
    );
  }
  return { index, receipt: await receiptOf(deps, index) };
}

/** A receipt for `index` against the checkpoint the view verified (witnessed). */
async function receiptOf(deps: EnrollDeps, index: bigint): Promise<string> {
  try {
    return await deps.log.receipt(index);
  } catch (err) {
    if (!(err instanceof LogError)) throw err;
    throw new TelemetryError('RESIDENCY_LOG_FAILED', 'the residency log gave no receipt', {
      cause: err,
      evidence: { index: index.toString() },
    });
  }
}
