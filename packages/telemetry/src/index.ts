export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export type {
  BatchToStore,
  BatchWriter,
  DeleteResult,
  EventVerdict,
  HashFacts,
  ListVerdict,
  ParsedForStore,
  Prepared,
  ReadScope,
  StoredBatchContent,
  SiteStorage,
  SiteSummary,
  StoredBatch,
  StoredEvent,
  UnloggedEntry,
  VerdictToImport,
} from './site/storage.js';
export { type SqliteSiteStorageOptions } from './site/sqlite-storage.js';
export { type OpenSqliteSiteStorageOptions, openSqliteSiteStorage } from './site/sqlite-thread.js';
export {
  type PostgresSiteStorageOptions,
  openPostgresSiteStorage,
} from './site/postgres-storage.js';
export {
  type IngestOptions,
  type IngestResult,
  type ResidencyLookup,
  SiteIngest,
} from './site/ingest.js';
export { SiteMetrics } from './site/metrics.js';
export {
  MAX_READ_ANSWER_BYTES,
  MAX_READ_BATCHES,
  MAX_READ_BODY_BYTES,
  type ReadAnswer,
  type ReadRequest,
  batchBytesOf,
  parseReadRequest,
  readAnswerJson,
  readBatches,
} from './site/read.js';
export { MAX_LOOKUP_HASHES, parseLookupBody, reputationOf } from './site/reputation.js';
export { DataSite, type OpenSiteOptions, type RetentionOptions, openSite } from './site/site.js';
export {
  type BatchParser,
  type ParsedBatch,
  WorkerBatchParser,
  inlineBatchParser,
  parseForStore,
  parseThenStore,
} from './site/batch-parser.js';
export { POLICY_HEADER, type SiteServerOptions, buildSiteServer } from './site/server.js';
// Residency view, ingest router and residency monitor.
export {
  type TailEntry,
  type TailState,
  type TailUpdate,
  VerifiedTail,
  type VerifiedTailOptions,
} from './view/tail.js';
export { type TailCommit, TailStore, decodeTailState, encodeTailState } from './view/tail-store.js';
export {
  type RefusedEntry,
  ResidencyView,
  type ResidencyViewOptions,
  VIEW_DB_FILE,
  type ViewRefresh,
} from './view/view.js';
export {
  type BatchAnswer,
  IngestRouter,
  type IngestRouterOptions,
} from './router/ingest-router.js';
export { ROUTER_STATUS, type RouterMetrics, buildRouterServer } from './router/server.js';
export {
  type DeviceRow,
  type OutboxRow,
  type OutboxStatus,
  ROUTER_DB_FILE,
  RouterStore,
} from './router/store.js';
export { type DeliveryOutcome, Forwarder, type ForwarderOptions } from './router/forwarder.js';
export {
  MONITOR_STATE_FILE,
  MONITOR_STATUS_FILE,
  type MonitorRun,
  readResidencyStatus,
  type WrittenStatus,
  ResidencyMonitor,
  type ResidencyMonitorOptions,
  type ResidencyLogStatus,
  type ResidencyStatus,
  type SiteStatus,
} from './monitor/monitor.js';
