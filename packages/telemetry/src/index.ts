export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export type {
  BatchToStore,
  DeleteResult,
  EventVerdict,
  HashFacts,
  ListVerdict,
  SiteStorage,
  SiteSummary,
  StoredBatch,
  StoredEvent,
  UnloggedEntry,
  VerdictToImport,
} from './site/storage.js';
export { type SqliteSiteStorageOptions, openSqliteSiteStorage } from './site/sqlite-storage.js';
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
  MAX_LOOKUP_HASHES,
  VERDICT_LIST_SCHEMA,
  parseLookupBody,
  parseVerdictList,
  reputationOf,
} from './site/reputation.js';
export { DataSite, type OpenSiteOptions, type RetentionOptions, openSite } from './site/site.js';
export { POLICY_HEADER, type SiteServerOptions, buildSiteServer } from './site/server.js';
