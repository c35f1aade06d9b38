import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/telemetry` throws (documented in the package README).
 * Each part of the package keeps its codes in its own group; add new codes to
 * the group of the part that throws them.
 */
export type TelemetryErrorCode =
  // batches (site and router)
  | 'BATCH_TOO_LARGE'
  | 'BATCH_INVALID'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  // data site: residency re-check (defence in depth)
  | 'REGION_NOT_DESIGNATED_HERE'
  | 'POLICY_UNKNOWN'
  | 'ENROLLMENT_MISMATCH'
  | 'CUSTOMER_NOT_ENROLLED'
  | 'POLICY_HEADER_INVALID'
  // data site: storage and ingest log
  | 'STORAGE_FAILED'
  | 'STORAGE_CORRUPT'
  | 'INGEST_LOG_FAILED'
  | 'RECEIPT_TIMEOUT'
  | 'CONFIG_INVALID'
  | 'CLOSED'
  // data site: the thread that parses batches (the parser's, or the SQLite storage's) stopped,
  // failed, or holds too many parsed batches (batch-parser.ts, sqlite-thread-worker.ts)
  | 'PARSER_FAILED'
  // data site: the access gateway's read (site/read.ts)
  | 'READ_NOT_AUTHORIZED'
  // reputation
  | 'HASH_INVALID'
  | 'TOO_MANY_HASHES'
  // residency view and verified tailing (view/)
  | 'LOG_UNREACHABLE'
  | 'CHECKPOINT_INVALID'
  | 'CHECKPOINT_QUORUM_NOT_MET'
  | 'LOG_ROLLBACK'
  | 'LOG_INCONSISTENT'
  | 'LOG_TILES_INVALID'
  | 'POLICY_NOT_LOGGED'
  | 'POLICY_UNVERIFIABLE'
  | 'VIEW_TIMEOUT'
  | 'STATE_LOCKED'
  | 'STATE_CORRUPT'
  // ingest router (router/)
  | 'DEVICE_NOT_ENROLLED'
  | 'DEVICE_INVALID'
  | 'REQUEST_REPLAYED'
  | 'CUSTOMER_MISMATCH'
  | 'REGION_MISMATCH'
  | 'REGION_UNKNOWN'
  | 'REGION_NOT_DESIGNATED'
  | 'ENROLLMENT_INVALID'
  | 'ENROLLMENT_SEQUENCE_BROKEN'
  | 'ENROLLMENT_NOT_WITNESSED'
  | 'RESIDENCY_LOG_FAILED'
  | 'BATCH_NOT_FOUND'
  // residency monitor (monitor/)
  | 'MONITOR_CONFIG_INVALID';

/** The one error class of `@glasshouse/telemetry`. Branch on `code`, never on the message. */
export class TelemetryError extends CodedError<TelemetryErrorCode> {}
