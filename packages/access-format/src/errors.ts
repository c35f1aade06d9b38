import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/access-format` throws. Callers branch on these,
 * never on messages; the README says what each one means.
 */
export type AccessFormatErrorCode =
  // access records (record.ts)
  | 'ACCESS_RECORD_TOO_LARGE'
  | 'ACCESS_RECORD_INVALID'
  | 'JUSTIFICATION_INVALID'
  // approval requests and approvals (approval.ts)
  | 'APPROVAL_REQUEST_INVALID'
  | 'APPROVAL_INVALID'
  | 'APPROVAL_SIGNATURE_INVALID'
  // the access policy and the access check (policy.ts, access-check.ts)
  | 'ACCESS_POLICY_INVALID'
  | 'DATA_CLASS_NOT_ALLOWED'
  | 'JUSTIFICATION_NOT_ALLOWED'
  | 'APPROVAL_MISSING'
  | 'APPROVAL_NOT_EXPECTED'
  | 'APPROVAL_SCOPE_MISMATCH'
  | 'APPROVAL_EXPIRED'
  | 'APPROVAL_DENIED'
  // the verifiable index (index-*.ts)
  | 'INDEX_INPUT_INVALID'
  | 'INDEX_ENTRY_OUT_OF_ORDER'
  | 'INDICES_INVALID'
  | 'LOOKUP_PROOF_INVALID'
  | 'LOOKUP_PROOF_MISMATCH'
  | 'OUTPUT_ENTRY_INVALID'
  // the customer's completeness check (completeness.ts)
  | 'INDEX_FORK'
  | 'INPUT_CHECKPOINT_MISMATCH'
  | 'RECORD_FOREIGN'
  | 'RECORD_OMITTED'
  | 'RECORD_HIDDEN'
  // access mine, the I/O-free run of the whole check (mine.ts)
  | 'MINE_INPUT_INVALID'
  | 'MINE_STATE_INVALID'
  | 'OUTPUT_LOG_UNREACHABLE'
  | 'OUTPUT_LOG_INVALID'
  | 'OUTPUT_ENTRY_NOT_LOGGED'
  | 'INDEX_UNREACHABLE'
  | 'INDEX_ANSWER_INVALID'
  | 'ACCESS_LOG_UNREACHABLE'
  | 'ACCESS_LOG_INVALID';

/** The one error class of `@glasshouse/access-format`. Branch on `code`, never on the message. */
export class AccessFormatError extends CodedError<AccessFormatErrorCode> {}
