export { LogError, type LogErrorCode } from './errors.js';
export type {
  IntegratedState,
  IntegratorLease,
  LogStorage,
  PendingEntry,
  PublishedCheckpoint,
  SequencedEntry,
  TileWrite,
} from './storage.js';
export { SqliteStorage, type SqliteStorageOptions, openSqliteStorage } from './sqlite.js';
export { type PostgresStorageOptions, openPostgresStorage } from './postgres.js';
export { type SequencedResult, Sequencer, type SequencerOptions, checkEntry } from './sequencer.js';
export {
  Integrator,
  type IntegratorOptions,
  type PublishCheckpoint,
  type PublishResult,
  type RoundResult,
  publishUnchanged,
} from './integrator.js';
export { LogMetrics } from './metrics.js';
export {
  type InitLogOptions,
  type InitLogResult,
  Log,
  type LogWitnessingOptions,
  type OpenLogOptions,
  type SignedCheckpoint,
  type WitnessingMode,
  initLog,
  openLog,
} from './log.js';
export { type ServerOptions, buildServer } from './server.js';
export { type AddBatchResult, type AddOptions, type AddResult, LogClient } from './client.js';
export {
  type WitnessFailure,
  type WitnessStatus,
  Witnessing,
  type WitnessingOptions,
} from './witnessing.js';
export { readProofTiles, storedConsistencyProof } from './proofs.js';
