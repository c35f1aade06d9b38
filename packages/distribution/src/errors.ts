import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/distribution` throws. Callers branch on these,
 * never on messages; the README lists what each one means.
 */
export type DistributionErrorCode =
  | 'REPO_NOT_INITIALIZED'
  // release log (release-log.ts, release-log-checker.ts)
  | 'RELEASE_LOG_ENTRY_INVALID'
  | 'RELEASE_LOG_ENTRY_UNAPPROVED';

/** The one error class of `@glasshouse/distribution`. */
export class DistributionError extends CodedError<DistributionErrorCode> {}
