import type { BundleErrorCode } from '@glasshouse/bundle';
import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/release` throws. Callers branch on these, never on
 * messages; the README lists what each one means. The rules build reports
 * the bundle format's and the engine's failures under their own codes.
 */
export type ReleaseErrorCode =
  | BundleErrorCode
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
  | 'RULES_ENGINE_DISAGREE'
  | 'RULES_UNSUPPORTED'
  | 'RULES_SAMPLE_MISSING'
  | 'RULES_SAMPLE_UNKNOWN'
  | 'RULES_SAMPLE_NOT_MATCHED'
  | 'RULES_SAMPLE_EXTRA_MATCH'
  | 'RULES_CLEAN_MATCHED'
  | 'RULES_SAMPLE_TIMEOUT'
  | 'RULES_ENGINE_MISSING'
  // verdicts build
  | 'VERDICTS_INVALID'
  // sandbox
  | 'SANDBOX_UNAVAILABLE'
  | 'SANDBOX_INVALID_REQUEST'
  | 'SANDBOX_IO'
  | 'SANDBOX_SPAWN_FAILED'
  | 'SANDBOX_COMMAND_FAILED'
  | 'SANDBOX_TIMEOUT'
  | 'SANDBOX_CANCELLED'
  | 'SANDBOX_OUTPUT_MISSING'
  | 'SANDBOX_OUTPUT_UNSAFE'
  // product build
  | 'BUILD_PRODUCT_INVALID'
  // assembly line
  | 'GIT_BAD_COMMIT'
  | 'GIT_BAD_SOURCE'
  | 'GIT_UNAVAILABLE'
  | 'GIT_FETCH_FAILED'
  | 'GIT_COMMIT_NOT_FOUND'
  | 'GIT_TIMEOUT'
  | 'GIT_FAILED'
  | 'SOURCE_NOT_SERVED'
  | 'SOURCE_OBJECT_TOO_LARGE'
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
  | 'ASSEMBLY_BAD_RESPONSE'
  | 'ASSEMBLY_NO_SUPERVISOR'
  | 'ASSEMBLY_APPROVAL_INCOMPLETE'
  | 'ASSEMBLY_NOT_APPROVED'
  | 'ASSEMBLY_RELEASE_REJECTED'
  // supervisor
  | 'SUPERVISOR_NOT_INITIALIZED'
  | 'SUPERVISOR_BAD_CONFIG'
  | 'SUPERVISOR_IO'
  | 'SUPERVISOR_BUILDER_NOT_PINNED'
  | 'SUPERVISOR_PROVENANCE_INVALID'
  | 'SUPERVISOR_BAD_REVIEW'
  | 'SUPERVISOR_REVIEWER_NOT_ALLOWED'
  | 'SUPERVISOR_REVIEW_REQUIRED'
  | 'SUPERVISOR_ALREADY_DECIDED'
  | 'SUPERVISOR_REBUILD_MISMATCH';

// release kit
/** The one error class of `@glasshouse/release`. Branch on `code`, never on the message. */
export class ReleaseError extends CodedError<ReleaseErrorCode> {}
