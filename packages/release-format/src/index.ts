// Vocabulary shared by the vendor, the supervisor and the endpoint.
export { ReleaseFormatError, type ReleaseFormatErrorCode } from './errors.js';
export {
  encodeReleaseLogEntry,
  MAX_RELEASE_LOG_ENTRY_BYTES,
  parseReleaseLogEntry,
  RELEASE_LOG_RECEIPT_NAME,
  RELEASE_LOG_SCHEMA,
  type ReleaseLogEntry,
} from './release-log.js';
export {
  ATTESTATION_KINDS,
  isIdUri,
  isReleaseId,
  releaseResourceUri,
  rulesBundleName,
  type ArtifactRef,
  type AttestationKind,
  type AttestationRef,
  type ReleaseRecord,
  type ReleaseStatus,
} from './records.js';
export { publicKeyInfo, tufKeyId, type PublicKeyInfo, type TufPublicKey } from './keys.js';
export {
  MAX_TRUST_BUNDLE_BYTES,
  TRUST_BUNDLE_PAYLOAD_TYPE,
  TRUST_BUNDLE_SCHEMA,
  checkResidencyTrust,
  checkResidencyIsSupervisors,
  encodeTrustBundlePayload,
  openTrustBundle,
  trustBundleEnvelope,
  trustBundleFingerprint,
  trustBundleSigningMessage,
  verifyTrustBundleFingerprint,
  type ResidencyTrust,
  type SupervisorResidencyKeys,
  type TrustBundle,
} from './trust-bundle.js';
export {
  APPROVAL_PREDICATE_TYPE,
  MISMATCH_PREDICATE_TYPE,
  REVIEW_PREDICATE_TYPE,
  verifySupervisorStatement,
  type StatementRelease,
} from './supervisor-statements.js';
export {
  BUILD_STEP_NAME,
  DEFAULT_LAYOUT_VALIDITY_DAYS,
  DELIVERY_INSPECTION_NAME,
  releaseLayout,
  verifyReleaseLayout,
  type LayoutRelease,
} from './release-layout.js';
export {
  MAX_PRODUCT_FILE_COUNT,
  MAX_PRODUCT_FILES_BYTES,
  NPM_PACK_ROOT,
  PRODUCT_FILES_SCHEMA,
  parseProductFiles,
  productFilesName,
  productFilesOf,
  PRODUCT_TAR_LIMITS,
  productTarballName,
  serializeProductFiles,
  type ProductFile,
  type ProductFiles,
} from './product-files.js';
export {
  MAX_LIST_VERDICTS,
  MAX_VERDICT_LIST_BYTES,
  MAX_VERDICT_SOURCE_BYTES,
  VERDICT_LIST_SCHEMA,
  parseVerdictList,
  serializeVerdictList,
  verdictListName,
  verdictListOf,
  type ListVerdict,
  type Verdict,
  type VerdictList,
} from './verdict-list.js';
