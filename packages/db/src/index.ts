export { DbError, type DbErrorCode } from './errors.js';
export { type OpenSqliteOptions, openSqlite } from './sqlite.js';
export {
  type PostgresPoolOptions,
  advisoryLockKey,
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  inTransaction,
} from './postgres.js';
export {
  ThreadChannel,
  startModuleThread,
  type ThreadAnswer,
  type ThreadErrors,
  type ThreadReady,
  type WireError,
} from './thread.js';
