import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/access` throws (documented in the package README).
 * Each part of the package keeps its codes in its own group; add new codes to
 * the group of the part that throws them.
 */
export type AccessErrorCode =
  // shared
  | 'BAD_REQUEST'
  | 'CONFIG_INVALID'
  | 'CLOSED'
  // index service, access mine, access monitor, alerts (part B)
  | 'INDEX_STATE_LOCKED'
  | 'INDEX_STATE_CONFLICT'
  | 'INDEX_STATE_CORRUPT'
  | 'INDEX_STORAGE_FAILED'
  | 'INDEX_NOT_READY'
  | 'ACCESS_LOG_INVALID'
  | 'ACCESS_LOG_UNREACHABLE'
  | 'OUTPUT_LOG_INVALID'
  | 'OUTPUT_LOG_UNREACHABLE'
  | 'OUTPUT_APPEND_FAILED'
  | 'INDEX_UNREACHABLE'
  | 'INDEX_ANSWER_INVALID'
  | 'OUTPUT_ENTRY_NOT_LOGGED'
  | 'MINE_STATE_INVALID'
  | 'MONITOR_STATE_INVALID'
  | 'ALERT_DELIVERY_FAILED';

/** The one error class of `@glasshouse/access`. Branch on `code`, never on the message. */
export class AccessError extends CodedError<AccessErrorCode> {}
