// Access transparency services (issue 17): the gateway, the key release, the
// approvals store, the index service and the access monitor. The formats are
// in @glasshouse/access-format (pure).
export { AccessError, type AccessErrorCode } from './errors.js';

// Part B: the index service, access mine, the access monitor, alerts.
export * from './index-service/index.js';
export {
  checkMyAccesses,
  type MineOptions,
  type MineRecord,
  type MineResult,
} from './mine/mine.js';
export {
  type AccessAlert,
  type AccessAlertKind,
  type AccessAlertSink,
  MemoryAccessAlerts,
  accessAlertKey,
  jsonLinesAccessAlerts,
} from './alerts.js';
export {
  ACCESS_MONITOR_STATE_FILE,
  ACCESS_MONITOR_STATUS_FILE,
  AccessMonitor,
  type AccessMonitorOptions,
  type AccessMonitorRun,
  type AccessMonitorStatus,
  type ApprovalSource,
  type LogStatus,
  type WrittenAccessMonitorStatus,
  readAccessMonitorStatus,
} from './monitor/monitor.js';
export { type HttpApprovalSourceOptions, httpApprovalSource } from './monitor/approvals-http.js';
// Part A: principal registry, gateway, key release, approvals.
export {
  accessorOf,
  encodePrincipalRegistry,
  openPrincipalRegistry,
  PRINCIPAL_REGISTRY_PAYLOAD_TYPE,
  PRINCIPAL_REGISTRY_SCHEMA,
  signPrincipalRegistry,
  type Principal,
  type PrincipalRegistry,
  type RegisteredPrincipal,
} from './principals.js';
export { residencyFactsOf, type ResidencyFacts } from './residency-facts.js';
export { isUniqueViolation, openSql, type Sql, type SqlLocation } from './sql.js';
export { ACCESS_STATUS, describeError } from './http.js';
export {
  checkPrepare,
  checkRelease,
  DEFAULT_RECORD_VALIDITY_SECONDS,
  MAX_RELEASE_BATCHES,
  type CheckedPrepare,
  type CheckedRelease,
  type PrepareRequest,
  type ReleaseContext,
  type ReleaseRequest,
} from './keyrelease/check.js';
export { RELEASED_FLUSH_MS, ReleaseAuditStore, type AuditEntry } from './keyrelease/audit.js';
export {
  KeyRelease,
  MAX_HELD_KEYS,
  MAX_PREPARED,
  TICKET_TTL_SECONDS,
  type KeyReleaseOptions,
  type PreparedTicket,
  type ReleasedKeys,
  type ReleasePreparedRequest,
} from './keyrelease/service.js';
export {
  buildKeyReleaseServer,
  MAX_RELEASE_BODY_BYTES,
  type KeyReleaseServerOptions,
} from './keyrelease/server.js';
export {
  ApprovalStore,
  type BreakGlassAccess,
  type StoredDecision,
  type StoredRequest,
  type StoredReview,
} from './approvals/store.js';
export {
  Approvals,
  DEFAULT_REVIEW_SECONDS,
  type ApprovalsOptions,
  type BreakGlassView,
  type RequestStatus,
  type RequestView,
} from './approvals/service.js';
export { RecordStore, type PendingRecord } from './gateway/records.js';
export {
  keyReleaseClient,
  siteReader,
  type KeyReleaseAsk,
  type KeyReleaseClient,
  type KeyReleasePrepareAsk,
  type KeyReleaseTicket,
  type ReleasedBatchKeys,
  type SiteReader,
} from './gateway/remotes.js';
export {
  Gateway,
  type AccessAnswer,
  type AccessAsk,
  type GatewayOptions,
  type ServedBatch,
  type ServedEvent,
} from './gateway/gateway.js';
export {
  answerJson,
  buildGatewayServer,
  GATEWAY_PRINCIPAL_ROUTES,
  parseAsk,
  principalAllowList,
  type GatewayServerOptions,
} from './gateway/server.js';
export {
  ACCESS_PHASES,
  parseServerTiming,
  serverTiming,
  type AccessPhase,
  type AccessTiming,
} from './gateway/timing.js';
