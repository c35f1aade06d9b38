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
  | 'AGENT_INSTALL_FAILED'
  // product releases (the agent's own code)
  | 'AGENT_PRODUCT_NOT_CONFIGURED'
  | 'AGENT_PRODUCT_INVALID'
  | 'AGENT_PRODUCT_MANIFEST_MISMATCH'
  | 'AGENT_PRODUCT_SELFCHECK_FAILED'
  | 'AGENT_NO_PREVIOUS_VERSION'
  // vendor verdict lists (for the data sites)
  | 'AGENT_VERDICTS_INVALID'
  // telemetry: residency trust, enrollment, the router, receipts, the cloud lookup
  | 'AGENT_RESIDENCY_NOT_PINNED'
  | 'AGENT_DEVICE_NOT_ENROLLED'
  | 'AGENT_CUSTOMER_NOT_ENROLLED'
  | 'AGENT_RESIDENCY_LOG_INVALID'
  | 'AGENT_RESIDENCY_LOG_UNREACHABLE'
  | 'AGENT_POLICY_NOT_LOGGED'
  | 'AGENT_REGION_NOT_DESIGNATED'
  | 'AGENT_ROUTER_UNREACHABLE'
  | 'AGENT_ROUTER_REFUSED'
  | 'AGENT_ROUTER_ANSWER_INVALID'
  | 'AGENT_RECEIPT_INVALID'
  | 'AGENT_RECEIPT_QUORUM_NOT_MET'
  | 'AGENT_SITE_UNREACHABLE'
  | 'AGENT_REPUTATION_INVALID'
  | 'AGENT_TELEMETRY_STATE_INVALID';

/** The one error class of `@glasshouse/agent`. */
export class AgentError extends CodedError<AgentErrorCode> {}

/** The codes of loading the active rules and scanning; see the package README. */
export type ScanErrorCode =
  /** `DIR/rules/active` does not exist: nothing was installed yet. */
  | 'AGENT_NO_ACTIVE_RULES'
  /** The active slot is not laid out as install leaves it, its manifest does not parse, or the rules do not compile. */
  | 'AGENT_RULES_INVALID'
  /** A rule file is missing or its SHA-256 differs from the manifest's, or the manifest differs from the expected digest. */
  | 'AGENT_RULES_TAMPERED'
  /** The active rules could not be read (permissions, I/O). */
  | 'AGENT_RULES_IO'
  /** `scanPaths` was called with an invalid option. */
  | 'AGENT_SCAN_BAD_OPTION'
  /** No YARA engine loads, or only one that cannot time out a scan and that was not allowed. */
  | 'AGENT_ENGINE_REFUSED'
  /** Used by front ends: the scan finished and at least one file matched. */
  | 'AGENT_SCAN_DETECTED';

/** The coded error of loading the active rules and scanning. */
export class ScanError extends CodedError<ScanErrorCode> {}
