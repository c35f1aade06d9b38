import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/attest` throws. Callers branch on these, never on
 * messages; the README lists what each one means.
 */
export type AttestErrorCode =
  // keys (Ed25519, PEM, securesystemslib key dicts)
  | 'KEY_MALFORMED'
  | 'KEY_ID_MISMATCH'
  | 'KEY_UNSUPPORTED_TYPE'
  // canonical JSON
  | 'CANONICAL_JSON_UNSUPPORTED'
  // DSSE envelopes
  | 'ENVELOPE_TOO_LARGE'
  | 'ENVELOPE_MALFORMED'
  | 'ENVELOPE_BASE64_INVALID'
  | 'ENVELOPE_TOO_MANY_SIGNATURES'
  | 'ENVELOPE_PAYLOAD_TYPE_UNSUPPORTED'
  | 'ENVELOPE_THRESHOLD_NOT_MET'
  | 'ENVELOPE_SIGNER_INVALID'
  | 'ENVELOPE_VERIFY_OPTIONS_INVALID'
  // in-toto statements
  | 'STATEMENT_MALFORMED'
  | 'STATEMENT_TOO_LARGE'
  | 'STATEMENT_TYPE_UNSUPPORTED'
  | 'STATEMENT_FIELD_MISSING'
  | 'STATEMENT_FIELD_INVALID'
  | 'STATEMENT_PREDICATE_TYPE_MISMATCH'
  | 'STATEMENT_SUBJECT_NOT_FOUND'
  // SLSA predicates
  | 'PREDICATE_FIELD_MISSING'
  | 'PREDICATE_FIELD_INVALID'
  | 'PROVENANCE_BUILDER_MISMATCH'
  | 'PROVENANCE_BUILD_TYPE_MISMATCH'
  | 'VSA_VERIFIER_MISMATCH'
  | 'VSA_NOT_PASSED'
  | 'VSA_LEVEL_NOT_MET'
  | 'VSA_RESOURCE_MISMATCH'
  // legacy in-toto layout and link metadata
  | 'METADATA_TOO_LARGE'
  | 'METADATA_MALFORMED'
  | 'METADATA_FIELD_INVALID'
  | 'METADATA_TYPE_MISMATCH'
  | 'METADATA_SIGNER_INVALID'
  | 'METADATA_SIGNATURE_INVALID'
  | 'LAYOUT_VERIFY_OPTIONS_INVALID'
  | 'LAYOUT_EXPIRED'
  | 'LAYOUT_STEP_NOT_FOUND'
  | 'STEP_THRESHOLD_NOT_MET'
  | 'STEP_LINKS_DISAGREE'
  | 'LINK_PRODUCT_MISMATCH'
  // git objects (SHA-1 object format)
  | 'GIT_OBJECT_MALFORMED'
  | 'GIT_OBJECT_MISMATCH';

/** The one error class of `@glasshouse/attest`. Branch on `code`, never on the message. */
export class AttestError extends CodedError<AttestErrorCode> {}
