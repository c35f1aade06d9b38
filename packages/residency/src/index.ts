// Pure formats of the data path: regions, the residency policy, enrollments,
// device registrations, residency-log and ingest-log entries, sealed
// telemetry batches. No `node:` imports: this package also runs in a browser.
export { ResidencyError, type ResidencyErrorCode } from './errors.js';
export {
  bytesEqual,
  canonicalJson,
  fromBase64,
  sha256Digest,
  sha256Hex,
  toBase64,
  type Json,
} from './bytes.js';
export {
  buildEnvelope,
  MAX_ENVELOPE_SIGNATURES,
  pae,
  serializeEnvelope,
  type DetachedSignature,
  type DsseEnvelope,
  type DsseSignature,
} from './dsse.js';
export {
  CUSTOMER_PSEUDONYM,
  customerPseudonym,
  decodePublicKey,
  DEVICE_PSEUDONYM,
  devicePseudonym,
  ed25519KeyPairFromSeed,
  encodePublicKey,
  generateEd25519KeyPair,
  keyId,
  signEd25519,
  verifyEd25519,
  type Ed25519KeyPair,
} from './keys.js';
export {
  assertKnownRegion,
  COUNTRY_CODE,
  isKnownRegion,
  REGION_CODE,
  regionCodes,
  regionOfCountry,
  REGIONS,
  type Region,
} from './regions.js';
export {
  DEMO_ZURICH_REGIONS,
  demoPolicy,
  designatedSite,
  DIGEST,
  encodePolicy,
  MAX_POLICY_BYTES,
  MAX_POLICY_ENVELOPE_BYTES,
  openPolicyEnvelope,
  parsePolicy,
  POLICY_PAYLOAD_TYPE,
  POLICY_SCHEMA,
  policyDigest,
  policyEnvelope,
  policySigningMessage,
  SITE_ID,
  verifyPolicyChain,
  type OpenedPolicy,
  type PolicyKeys,
  type ResidencyPolicy,
  type Site,
} from './policy.js';
export { diffPolicies, isEmptyDiff, type PolicyDiff, type SiteChange } from './policy-diff.js';
export {
  encodeEnrollment,
  ENROLLMENT_PAYLOAD_TYPE,
  ENROLLMENT_SCHEMA,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  MAX_ENROLLMENT_BYTES,
  MAX_ENROLLMENT_ENVELOPE_BYTES,
  openCustomerEnrollment,
  openEnrollmentEnvelope,
  parseEnrollment,
  type Enrollment,
  type OpenedEnrollment,
} from './enrollment.js';
export {
  DEVICE_PAYLOAD_TYPE,
  DEVICE_SCHEMA,
  deviceEnvelope,
  deviceSigningMessage,
  encodeDeviceRegistration,
  MAX_DEVICE_BYTES,
  MAX_DEVICE_ENVELOPE_BYTES,
  openDeviceRegistration,
  parseDeviceRegistration,
  type DeviceRegistration,
  type OpenedDeviceRegistration,
} from './device.js';
export {
  encodeResidencyLogEntry,
  MAX_RESIDENCY_LOG_ENTRY_BYTES,
  parseResidencyLogEntry,
  RESIDENCY_LOG_SCHEMA,
  type ResidencyLogEntry,
} from './residency-log.js';
export {
  ResidencyState,
  type AppliedEntry,
  type LoggedEnrollment,
  type LoggedPolicy,
} from './state.js';
export {
  BATCH_SCHEMA,
  batchDigest,
  encodeBatch,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  parseBatch,
  VERDICTS,
  type TelemetryBatch,
  type TelemetryEvent,
  type Verdict,
} from './batch.js';
export {
  batchSummary,
  parseBatchColumns,
  parseBatchSummary,
  type BatchColumns,
  type BatchSummary,
} from './batch-columns.js';
export {
  generateKeyReleaseKeyPair,
  HPKE_INFO,
  keyReleaseKeyId,
  keyReleasePublicKey,
  openAllPersonal,
  openBatchKey,
  openPersonal,
  sealBatch,
  type BatchInput,
  type KeyReleaseKeyPair,
  type PersonalFields,
  type PlainEvent,
} from './seal.js';
export {
  checkStoredEntry,
  encodeIngestLogEntry,
  INGEST_LOG_SCHEMA,
  MAX_DELETED_PER_ENTRY,
  MAX_INGEST_LOG_ENTRY_BYTES,
  parseIngestLogEntry,
  type CheckStoredOptions,
  type DeletedEntry,
  type IngestLogEntry,
  type StoredEntry,
} from './ingest-log.js';
export {
  checkReputation,
  REPUTATION_SOURCES,
  REPUTATION_VERDICTS,
  type Reputation,
  type ReputationSource,
  type ReputationVerdict,
} from './reputation.js';
// Schema checks shared with the other pure formats (access-format): each parser passes its own `fail`.
export {
  exactObject,
  isRfc3339,
  matching,
  preview,
  rfc3339,
  type Fail,
  type Obj,
} from './check.js';
