import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/distribution` throws. Callers branch on these,
 * never on messages; the README lists what each one means.
 */
export type DistributionErrorCode =
  // repository state
  | 'REPO_NOT_INITIALIZED'
  | 'REPO_ALREADY_INITIALIZED'
  | 'REPO_CORRUPT'
  | 'REPO_OPTION_INVALID'
  | 'ROOT_NOT_PUBLISHED'
  // keys and signatures
  | 'KEY_MALFORMED'
  | 'SIGNATURE_MALFORMED'
  | 'SIGNATURE_UNKNOWN_KEY'
  | 'SIGNATURE_INVALID'
  // drafts
  | 'DRAFT_MISSING'
  | 'DRAFT_PENDING'
  | 'DRAFT_MALFORMED'
  | 'DRAFT_EXPIRED'
  // targets
  | 'TARGET_NAME_INVALID'
  | 'TARGET_CUSTOM_INVALID'
  | 'TARGET_EXISTS'
  // release log (release-log.ts, release-log-checker.ts)
  | 'RELEASE_LOG_ENTRY_INVALID'
  | 'RELEASE_LOG_ENTRY_UNAPPROVED'
  // supervisor signing and the repository service
  | 'RELEASES_DRAFT_REFUSED'
  | 'RELEASE_NOT_APPROVED'
  | 'REPO_UPSTREAM_FAILED';

/** The one error class of `@glasshouse/distribution`. */
export class DistributionError extends CodedError<DistributionErrorCode> {}
