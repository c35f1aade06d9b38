// Distribution's public API, by name; helpers stay internal.
export { DistributionError, type DistributionErrorCode } from './errors.js';
export {
  releaseLogChecker,
  supervisorDirApprovals,
  type ApprovalLookup,
  type ApprovedRelease,
} from './release-log-checker.js';
export {
  generateTufKey,
  loadTufKey,
  parseTufPublicKey,
  parseTufSignature,
  saveTufKey,
  signMetadata,
  tufKeyFromPem,
  tufKeyId,
  tufKeyToPem,
  verifyMetadataSignature,
  type TufPublicKey,
  type TufSignature,
  type TufSigningKey,
} from './tuf-keys.js';
export {
  RELEASES_ROLE,
  buildReleases,
  buildRoot,
  buildSnapshot,
  buildTimestamp,
  buildTopLevelTargets,
  consistentTargetPath,
  expiresAfter,
  metaFileFor,
  parseMetadataBytes,
  parseMetadataJson,
  serializeMetadata,
  targetFileFor,
  type JsonObject,
  type TufMetadataDocument,
} from './tuf-metadata.js';
export {
  DEFAULT_EXPIRIES,
  type DraftRootRotationOptions,
  type InitRepositoryOptions,
  type InitRepositoryResult,
  type PublicKeyInfo,
  type PublishReleaseOptions,
  type RefreshResult,
  type RefreshTimestampOptions,
  type ReleaseTarget,
  type ReleasesSignatureResult,
  type RepoExpiries,
  type RepositoryState,
  type RootSignatureResult,
  type SupervisorKeys,
  type TargetsScheme,
  type TargetsSignatureResult,
  type ThresholdCount,
  type VendorKeyRole,
} from './tuf-repo.js';
export { repoPaths } from './repo-store.js';
export { signDraft } from './repo-rules.js';
export {
  addRootSignature,
  discardRootDraft,
  draftRootRotation,
  initRepository,
  rootDraft,
} from './root-ceremony.js';
export {
  addTargetsSignature,
  discardTargetsDraft,
  draftTargets,
  targetsDraft,
} from './targets-ceremony.js';
export {
  addReleasesSignature,
  discardReleasesDraft,
  publishRelease,
  readRepositoryState,
  refreshTimestamp,
  releasesDraft,
} from './releases-ceremony.js';
export {
  checkRootTargetsRole,
  checkTargetsDraft,
  type TargetsExpectation,
} from './targets-checks.js';
export {
  SUPERVISOR_TUF_KEYS_SCHEMA,
  ensureSupervisorTufKeys,
  formatSupervisorKeysFile,
  parseSupervisorKeysFile,
  signReleasesDraftAsSupervisor,
  signRootDraftAsSupervisor,
  signTargetsDraftAsSupervisor,
  type ReleaseTargetCustom,
  type SupervisorTufKeys,
} from './supervisor-tuf.js';
export { RepoService, type PublishedDraft, type RepoServiceOptions } from './repo-service.js';
export {
  PUBLISH_TOKEN_FILE,
  TRUST_BUNDLE_FILE,
  TRUST_BUNDLE_PATH,
  buildRepoServer,
  ensurePublishToken,
  type RepoServerOptions,
} from './repo-server.js';
export {
  RepoClient,
  supervisorSignRelease,
  supervisorSignRoot,
  supervisorSignTargets,
} from './repo-client.js';
export {
  REPO_MONITOR_STATE_FILE,
  RepoMonitor,
  type RepoFinding,
  type RepoMonitorOptions,
  type RepoMonitorPass,
} from './repo-monitor.js';
