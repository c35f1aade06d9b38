import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/release` throws. Callers branch on these, never on
 * messages; the README lists what each one means.
 */
export type ReleaseErrorCode =
  // recipe
  | 'RECIPE_TOO_LARGE'
  | 'RECIPE_NOT_JSON'
  | 'RECIPE_INVALID'
  | 'RECIPE_UNKNOWN_FIELD'
  | 'RECIPE_BAD_NAME'
  | 'RECIPE_BAD_VERSION'
  | 'RECIPE_BAD_PATH'
  // rules build
  | 'RULES_IO'
  | 'RULES_BAD_FILE'
  | 'RULES_EMPTY'
  | 'RULES_TOO_LARGE'
  | 'RULES_SYNTAX'
  | 'RULES_ENGINE_DISAGREE'
  | 'RULES_UNSUPPORTED'
  | 'RULES_SAMPLE_MISSING'
  | 'RULES_SAMPLE_UNKNOWN'
  | 'RULES_SAMPLE_NOT_MATCHED'
  | 'RULES_SAMPLE_EXTRA_MATCH'
  | 'RULES_CLEAN_MATCHED'
  | 'RULES_ENGINE_MISSING'
  | 'RULES_ENGINE_FAILED'
  | 'RULES_BAD_EPOCH'
  // bundle, tar and manifest
  | 'TAR_BAD_HEADER'
  | 'TAR_BAD_CHECKSUM'
  | 'TAR_TRUNCATED'
  | 'TAR_UNSUPPORTED_TYPE'
  | 'TAR_BAD_PATH'
  | 'TAR_DUPLICATE'
  | 'TAR_TOO_LARGE'
  | 'TAR_NAME_TOO_LONG'
  | 'BUNDLE_BAD_GZIP'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_DIGEST_MISMATCH'
  | 'SELFTEST_FAILED'
  // sandbox
  | 'SANDBOX_UNAVAILABLE'
  | 'SANDBOX_INVALID_REQUEST'
  | 'SANDBOX_IO'
  | 'SANDBOX_SPAWN_FAILED'
  | 'SANDBOX_COMMAND_FAILED'
  | 'SANDBOX_TIMEOUT'
  | 'SANDBOX_OUTPUT_MISSING'
  | 'SANDBOX_OUTPUT_UNSAFE'
  // assembly line
  | 'GIT_BAD_COMMIT'
  | 'GIT_BAD_SOURCE'
  | 'GIT_UNAVAILABLE'
  | 'GIT_FETCH_FAILED'
  | 'GIT_COMMIT_NOT_FOUND'
  | 'GIT_TIMEOUT'
  | 'GIT_FAILED'
  | 'RECIPE_MISSING'
  | 'SOURCE_TOO_LARGE'
  | 'ASSEMBLY_NOT_INITIALIZED'
  | 'ASSEMBLY_ALREADY_INITIALIZED'
  | 'ASSEMBLY_BAD_CONFIG'
  | 'ASSEMBLY_BAD_REQUEST'
  | 'ASSEMBLY_TOO_LARGE'
  | 'ASSEMBLY_BAD_ATTESTATION'
  | 'ASSEMBLY_NOT_FOUND'
  | 'ASSEMBLY_BUSY'
  | 'ASSEMBLY_CLOSED'
  | 'ASSEMBLY_IO'
  | 'ASSEMBLY_UNREACHABLE'
  | 'ASSEMBLY_BAD_RESPONSE';

/** The one error class of `@glasshouse/release`. Branch on `code`, never on the message. */
export class ReleaseError extends CodedError<ReleaseErrorCode> {}
