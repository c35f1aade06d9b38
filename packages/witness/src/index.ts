export { WitnessError, type WitnessErrorCode } from './errors.js';
export {
  type AddCheckpointOptions,
  type AddCheckpointRequest,
  type AddCheckpointResponse,
  MAX_PROOF_LINES,
  TLOG_SIZE_CONTENT_TYPE,
  addCheckpoint,
  formatAddCheckpointRequest,
} from './client.js';
export { type KnownLog, type WitnessStateStore, type WitnessedCheckpoint } from './state.js';
export {
  type AddCheckpointRejection,
  type AddCheckpointResult,
  MAX_CHECKPOINT_SIGNATURES,
  MAX_REQUEST_SIZE,
  type ParsedAddCheckpoint,
  type Witness,
  type WitnessOptions,
  createWitness,
  parseAddCheckpointRequest,
} from './witness.js';
export {
  SQLITE_STATE_FILE,
  SqliteState,
  type SqliteStateOptions,
  openSqliteState,
} from './sqlite-state.js';
export { type PostgresStateOptions, openPostgresState } from './postgres-state.js';
export {
  WitnessMetrics,
  type WitnessServerOptions,
  buildWitnessServer,
  originPathSegment,
} from './server.js';
export {
  type Fetched,
  type FetchedBundle,
  type FetchedTile,
  TilesFetcher,
  type TilesFetcherOptions,
} from './tiles-fetch.js';
export {
  type BasicEntryCheckerOptions,
  type EntryChecker,
  type MonitorEntry,
  basicEntryChecker,
} from './checker.js';
export {
  type Alert,
  type AlertKind,
  type AlertSink,
  JsonLinesAlertSink,
  MemoryAlertSink,
  WebhookAlertSink,
  type WebhookAlertSinkOptions,
  fanOutAlertSink,
  formatAlertLine,
  witnessRefusalAlert,
} from './alerts.js';
export {
  MONITOR_DB_FILE,
  type MonitorState,
  type MonitorStateStore,
  SqliteMonitorStateStore,
} from './monitor-state.js';
export {
  FileMirrorStore,
  MIRROR_DIR,
  type MirrorServerOptions,
  type MirrorStore,
  buildMirrorServer,
  listMirroredTiles,
} from './mirror.js';
export {
  type Monitor,
  type MonitorOptions,
  type MonitorProgress,
  type RunOutcome,
  type RunResult,
  createMonitor,
} from './monitor.js';
