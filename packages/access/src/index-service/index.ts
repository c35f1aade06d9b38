export {
  type IndexCommit,
  type IndexSnapshot,
  type IndexStore,
  type CustomerPeaks,
  type PublishedRevision,
} from './store.js';
export {
  INDEX_STATE_FILE,
  type SqliteIndexStoreOptions,
  openSqliteIndexStore,
} from './sqlite-store.js';
export { type PostgresIndexStoreOptions, openPostgresIndexStore } from './postgres-store.js';
export {
  IndexService,
  type IndexServiceOptions,
  type LookupAnswer,
  type StepResult,
} from './service.js';
export { buildIndexServer, type IndexServerOptions } from './server.js';
