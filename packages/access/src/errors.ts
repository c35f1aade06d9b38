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
  | 'MINE_STATE_INVALID'
  | 'MONITOR_STATE_INVALID'
  | 'ALERT_DELIVERY_FAILED'
  | 'APPROVALS_UNREACHABLE'
  // part A: principal registry, gateway, key release, approvals (src/principals.ts,
  // src/gateway/, src/keyrelease/, src/approvals/)
  | 'REGISTRY_INVALID'
  | 'PRINCIPAL_UNKNOWN'
  | 'JUSTIFICATION_MISSING'
  | 'SITE_UNKNOWN'
  | 'CUSTOMER_UNKNOWN'
  | 'ACCESS_LOG_UNAVAILABLE'
  | 'WITNESS_QUORUM_UNAVAILABLE'
  | 'SITE_UNAVAILABLE'
  | 'KEY_RELEASE_UNAVAILABLE'
  | 'KEY_RELEASE_REFUSED'
  | 'BATCHES_NOT_FOUND'
  | 'RECORD_INVALID'
  | 'RECORD_PROOF_INVALID'
  | 'RECORD_NOT_WITNESSED'
  | 'RECORD_EXPIRED'
  | 'RECORD_REPLAYED'
  | 'OUT_OF_SCOPE'
  | 'BATCH_INVALID'
  | 'SEALED_KEY_OPEN_FAILED'
  | 'TICKET_UNKNOWN'
  | 'TICKET_MISMATCH'
  | 'TOO_MANY_PREPARED'
  | 'REQUEST_NOT_FOUND'
  | 'REQUEST_EXPIRED'
  | 'REQUESTER_MISMATCH'
  | 'REVIEW_NOT_EXPECTED'
  | 'STORE_FAILED'
  | 'STATE_LOCKED'
  | 'RESPONSE_INVALID';

/** The one error class of `@glasshouse/access`. Branch on `code`, never on the message. */
export class AccessError extends CodedError<AccessErrorCode> {}
