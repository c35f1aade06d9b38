// The endpoint agent's public API, by name.
export { AgentError, ScanError, type AgentErrorCode, type ScanErrorCode } from './errors.js';
export {
  initAgent,
  initAgentFromTrustBundle,
  loadAgent,
  MAX_ROOT_BYTES,
  type Agent,
  type AgentConfig,
  type InitAgentOptions,
} from './config.js';
export type { ProductUpdateResult, SeenCheckpoint, UpdateResult } from './state.js';
export { compareVersions, newestVersion } from './versions.js';
export { agentErrorFromTuf } from './tuf-failures.js';
export {
  checkConsistency,
  httpConsistencyProofs,
  verifyReleaseReceipt,
  type ConsistencyProofSource,
} from './release-log.js';
export { verifySupervision, type SupervisionTrust } from './attestations.js';
export {
  activateSlot,
  activeRulesDir,
  selfTestSlot,
  stageAndSelfTest,
  stageBundle,
} from './install.js';
export { updateAgent, type UpdateOptions, type UpdateOutcome } from './update.js';
export { agentStatus, type AgentStatus } from './status.js';
export {
  rollbackProduct,
  updateProduct,
  type ProductUpdateOptions,
  type ProductUpdateOutcome,
} from './product-update.js';
export {
  currentVerdictList,
  updateVerdicts,
  type VerdictUpdateOptions,
  type VerdictUpdateOutcome,
} from './verdict-update.js';
export {
  MAX_PRODUCT_TARBALL_BYTES,
  productVersionOf,
  stageProduct,
  verifyProductTree,
} from './product-install.js';
export { PRODUCT_BIN, SELFCHECK_MAX_CASES, selfCheckProduct } from './product-selfcheck.js';
export {
  loadActiveRules,
  MAX_MANIFEST_BYTES,
  MAX_RULE_FILE_BYTES,
  MAX_RULES_TOTAL_BYTES,
  type ActiveRules,
  type LoadActiveRulesOptions,
} from './active-rules.js';
export {
  DEFAULT_MAX_FILE_SIZE,
  DEFAULT_PROGRESS_INTERVAL_MS,
  scanPaths,
  type ScanOptions,
  type ScanRecord,
  type ScanSummary,
  type SkipReason,
} from './scan.js';
export {
  canScanInThreads,
  checkThreads,
  defaultScanThreads,
  idleCoreScanThreads,
  MAX_SCAN_THREADS,
  ScanPool,
  type ScanPoolOptions,
} from './scan-pool.js';
export {
  checkPinnedResidency,
  deviceIdentity,
  loadEnrollment,
  loadResidency,
  pinResidency,
  type DeviceEnrollment,
  type PinnedResidency,
} from './telemetry/trust.js';
export {
  queueDetections,
  type Detection,
  type OutboxRecord,
  type SentRecord,
} from './telemetry/queue.js';
export {
  enrollDevice,
  sendTelemetry,
  telemetryReport,
  verifyReceipts,
  type EnrollOptions,
  type SendOptions,
  type SendReport,
  type TelemetryReport,
} from './telemetry/telemetry.js';
export { lookupReputation, MAX_LOOKUP_HASHES, type CloudLookup } from './telemetry/cloud.js';
export { readResidencyView, currentSite, type ResidencyView } from './telemetry/residency-view.js';
export { sitePolicy, verifyBatchReceipt, type VerifiedReceipt } from './telemetry/receipts.js';
