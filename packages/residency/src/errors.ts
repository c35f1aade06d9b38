import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/residency` throws. Callers branch on these, never
 * on messages; the README says what each one means and why the check exists.
 */
export type ResidencyErrorCode =
  // keys and DSSE envelopes (keys.ts, dsse.ts)
  | 'KEY_INVALID'
  | 'ENVELOPE_INVALID'
  // regions and the residency policy (regions.ts, policy.ts)
  | 'REGION_UNKNOWN'
  | 'REGION_NOT_DESIGNATED'
  | 'POLICY_INVALID'
  | 'POLICY_SIGNATURE_MISSING'
  | 'POLICY_SIGNATURE_INVALID'
  | 'POLICY_CHAIN_BROKEN'
  // enrollments and device registrations (enrollment.ts, device.ts)
  | 'ENROLLMENT_INVALID'
  | 'ENROLLMENT_SIGNATURE_MISSING'
  | 'ENROLLMENT_SIGNATURE_INVALID'
  | 'ENROLLMENT_KEY_CHANGED'
  | 'ENROLLMENT_SEQUENCE_BROKEN'
  | 'DEVICE_REGISTRATION_INVALID'
  | 'DEVICE_SIGNATURE_MISSING'
  | 'DEVICE_SIGNATURE_INVALID'
  // the residency log and its fold (residency-log.ts, state.ts)
  | 'RESIDENCY_ENTRY_INVALID'
  | 'RESIDENCY_ENTRY_OUT_OF_ORDER'
  // telemetry batches and sealing (batch.ts, seal.ts)
  | 'BATCH_TOO_LARGE'
  | 'BATCH_INVALID'
  | 'KEY_RELEASE_KEY_MISMATCH'
  | 'SEALED_KEY_OPEN_FAILED'
  | 'PERSONAL_OPEN_FAILED'
  // ingest-log entries and the check of a stored batch (ingest-log.ts)
  | 'INGEST_ENTRY_INVALID'
  | 'POLICY_UNKNOWN'
  | 'REGION_NOT_DESIGNATED_HERE'
  | 'ENROLLMENT_MISMATCH'
  // reputation answers (reputation.ts)
  | 'REPUTATION_INVALID';

/** The one error class of `@glasshouse/residency`. Branch on `code`, never on the message. */
export class ResidencyError extends CodedError<ResidencyErrorCode> {}
