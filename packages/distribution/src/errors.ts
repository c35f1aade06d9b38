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
  | 'RELEASE_LOG_ENTRY_UNAPPROVED'
  // supervisor signing and the repository service
  | 'RELEASES_DRAFT_REFUSED'
  // the supervisor's checks of a targets draft (targets-checks.ts), one code per change
  | 'TARGETS_TOP_LEVEL_TARGET'
  | 'TARGETS_THRESHOLD_LOWERED'
  | 'TARGETS_KEY_SWAPPED'
  | 'TARGETS_DELEGATION_CHANGED'
  | 'TARGETS_ROLE_NOT_TWO_PARTY'
  // the supervisor's repository monitor (repo-monitor.ts), one code per finding
  | 'REPO_ROOT_UNSUPERVISED'
  | 'REPO_TARGETS_UNSUPERVISED'
  | 'REPO_DELEGATION_UNSUPERVISED'
  | 'REPO_TARGET_UNAPPROVED'
  | 'RELEASE_NOT_APPROVED'
  | 'REPO_UPSTREAM_FAILED';

/** The one error class of `@glasshouse/distribution`. */
export class DistributionError extends CodedError<DistributionErrorCode> {}
