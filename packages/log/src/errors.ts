import { CodedError } from '@glasshouse/errors';

/** Every code `@glasshouse/log` throws (documented in the package README). */
export type LogErrorCode =
  // input
  | 'ENTRY_EMPTY'
  | 'ENTRY_TOO_LARGE'
  | 'BATCH_MALFORMED'
  | 'BATCH_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'INDEX_OUT_OF_RANGE'
  | 'SIZE_OUT_OF_RANGE'
  | 'TILE_NOT_FOUND'
  | 'NOT_FOUND'
  // overload and lifecycle
  | 'QUEUE_FULL'
  | 'CLOSED'
  | 'WAIT_TIMEOUT'
  // log set-up
  | 'NOT_INITIALISED'
  | 'ALREADY_INITIALISED'
  | 'DATA_DIR_LOCKED'
  | 'KEY_INVALID'
  // storage
  | 'STORAGE_FAILED'
  | 'STORAGE_CORRUPT'
  | 'TILE_CONFLICT'
  | 'TILE_PATH_UNSAFE'
  // integration
  | 'TREE_INCONSISTENT'
  | 'STATE_CONFLICT'
  | 'LEASE_LOST'
  // witnessing and publishing
  | 'WITNESS_POLICY_INVALID'
  | 'WITNESS_FAILED'
  | 'QUORUM_NOT_MET'
  | 'PUBLISH_INVALID'
  // HTTP client
  | 'HTTP_ERROR'
  | 'RESPONSE_INVALID';

/** The one error class of `@glasshouse/log`. Branch on `code`, never on the message. */
export class LogError extends CodedError<LogErrorCode> {}
