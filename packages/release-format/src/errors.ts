import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/release-format` throws. Callers branch on these,
 * never on messages; the README lists what each one means.
 */
export type ReleaseFormatErrorCode =
  | 'RELEASE_LOG_ENTRY_INVALID'
  // the endpoints' trust bundle (trust-bundle.ts)
  | 'TRUST_BUNDLE_MALFORMED'
  | 'TRUST_BUNDLE_FINGERPRINT_INVALID'
  | 'TRUST_BUNDLE_FINGERPRINT_MISMATCH'
  | 'TRUST_BUNDLE_KEY_MISMATCH'
  | 'TRUST_BUNDLE_SIGNATURE_INVALID'
  | 'TRUST_BUNDLE_SIGNATURE_MISSING'
  | 'TRUST_BUNDLE_RESIDENCY_FOREIGN'
  // the supervisor's statements (supervisor-statements.ts)
  | 'SUPERVISOR_ATTESTATION_INVALID'
  // a release's in-toto layout (release-layout.ts)
  | 'RELEASE_KIT_INCOMPLETE'
  // a product release's file manifest (product-files.ts)
  | 'PRODUCT_FILES_INVALID'
  // a vendor verdict list (verdict-list.ts)
  | 'VERDICT_LIST_INVALID';

/** The one error class of `@glasshouse/release-format`. Branch on `code`, never on the message. */
export class ReleaseFormatError extends CodedError<ReleaseFormatErrorCode> {}
