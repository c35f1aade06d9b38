import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/bundle` throws. Callers branch on these, never on
 * messages; the README lists what each one means.
 */
export type BundleErrorCode =
  // tar (POSIX.1-1988 ustar)
  | 'TAR_BAD_HEADER'
  | 'TAR_BAD_CHECKSUM'
  | 'TAR_TRUNCATED'
  | 'TAR_UNSUPPORTED_TYPE'
  | 'TAR_BAD_PATH'
  | 'TAR_DUPLICATE'
  | 'TAR_TOO_LARGE'
  | 'TAR_NAME_TOO_LONG'
  // bundle and manifest
  | 'BUNDLE_BAD_GZIP'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_DIGEST_MISMATCH'
  | 'RULES_BAD_EPOCH'
  | 'SELFTEST_FAILED'
  // engine
  | 'RULES_SYNTAX'
  | 'RULES_ENGINE_FAILED'
  | 'RULES_ENGINE_UNAVAILABLE'
  | 'RULES_ENGINE_NO_TIMEOUT'
  | 'RULES_ENGINE_BAD_LIMIT'
  | 'RULES_CANCELLED';

/** The one error class of `@glasshouse/bundle`. Branch on `code`, never on the message. */
export class BundleError extends CodedError<BundleErrorCode> {}
