import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/agent` throws. Callers branch on these, never on
 * messages; the README lists what each one means.
 */
export type AgentErrorCode =
  // the agent's own directory and options
  | 'AGENT_NOT_INITIALIZED'
  | 'AGENT_ALREADY_INITIALIZED'
  | 'AGENT_CONFIG_INVALID'
  | 'AGENT_OPTION_INVALID'
  // the trust bundle given to init
  | 'AGENT_TRUST_BUNDLE_MALFORMED'
  | 'AGENT_TRUST_BUNDLE_FINGERPRINT_MISMATCH'
  | 'AGENT_TRUST_BUNDLE_KEY_MISMATCH'
  | 'AGENT_TRUST_BUNDLE_SIGNATURE_INVALID'
  | 'AGENT_TRUST_BUNDLE_SIGNATURE_MISSING'
  | 'AGENT_TRUST_BUNDLE_UNCONFIRMED'
  // TUF, as tuf-js reports it
  | 'AGENT_TUF_ROLLBACK'
  | 'AGENT_TUF_EXPIRED'
  | 'AGENT_TUF_MIX_AND_MATCH'
  | 'AGENT_TUF_TOO_LARGE'
  | 'AGENT_TUF_SIGNATURES'
  | 'AGENT_TUF_VENDOR_SIGNATURE_MISSING'
  | 'AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING'
  | 'AGENT_TUF_SUPERVISOR_NOT_DELEGATED'
  | 'AGENT_TUF_TARGET_MISMATCH'
  | 'AGENT_TUF_FETCH_FAILED'
  | 'AGENT_TUF_METADATA_INVALID'
  // the release as listed in the releases role
  | 'AGENT_NO_RELEASE'
  | 'AGENT_RELEASE_INCOMPLETE'
  | 'AGENT_RELEASE_ROLLBACK'
  // the release log
  | 'AGENT_LOG_RECEIPT_INVALID'
  | 'AGENT_LOG_QUORUM_NOT_MET'
  | 'AGENT_LOG_ENTRY_MISSING'
  | 'AGENT_LOG_FORK'
  | 'AGENT_LOG_UNREACHABLE'
  // the supervisor's VSA and the vendor's provenance
  | 'AGENT_VSA_INVALID'
  | 'AGENT_VSA_VERIFIER_MISMATCH'
  | 'AGENT_VSA_NOT_PASSED'
  | 'AGENT_VSA_DIGEST_MISMATCH'
  | 'AGENT_VSA_SOURCE_MISMATCH'
  | 'AGENT_PROVENANCE_INVALID'
  | 'AGENT_PROVENANCE_BUILDER_MISMATCH'
  | 'AGENT_PROVENANCE_SOURCE_MISMATCH'
  | 'AGENT_PROVENANCE_DIGEST_MISMATCH'
  // installing
  | 'AGENT_BUNDLE_INVALID'
  | 'AGENT_SELFTEST_FAILED'
  | 'AGENT_ENGINE_REFUSED'
  | 'AGENT_INSTALL_FAILED';

/** The one error class of `@glasshouse/agent`. */
export class AgentError extends CodedError<AgentErrorCode> {}
