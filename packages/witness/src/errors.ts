import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/witness` throws or answers with (documented in the
 * package README). One union for the whole package: append new codes to the
 * section they belong to.
 */
export type WitnessErrorCode =
  // witness: add-checkpoint rejections (c2sp.org/tlog-witness status codes)
  | 'REQUEST_MALFORMED'
  | 'REQUEST_TOO_LARGE'
  | 'PROOF_TOO_LONG'
  | 'OLD_SIZE_TOO_LARGE'
  | 'LOG_UNKNOWN'
  | 'LOG_SIGNATURE_INVALID'
  | 'OLD_SIZE_MISMATCH'
  | 'ROOT_MISMATCH'
  | 'CONSISTENCY_PROOF_INVALID'
  // witness: set-up and state
  | 'DATA_DIR_LOCKED'
  | 'KEY_INVALID'
  | 'LOG_CONFLICT'
  | 'STATE_CONFLICT'
  | 'STORAGE_FAILED'
  | 'STORAGE_CORRUPT'
  // monitor and mirror (append this section's codes right below this line)
  | 'FETCH_FAILED'
  | 'FETCH_NOT_FOUND'
  | 'FETCH_TOO_LARGE'
  | 'TILE_MALFORMED'
  | 'ENTRY_REJECTED'
  | 'MONITOR_CONFIG_INVALID'
  | 'MONITOR_STATE_LOCKED'
  | 'MONITOR_STATE_CORRUPT'
  | 'MONITOR_STATE_MISMATCH'
  | 'MIRROR_CONFLICT'
  | 'MIRROR_PATH_UNSAFE'
  | 'ALERT_DELIVERY_FAILED'
  | 'ALERTS_RAISED'
  // witness client
  | 'REQUEST_INVALID'
  | 'WITNESS_UNREACHABLE'
  | 'RESPONSE_INVALID'
  | 'RESPONSE_TOO_LARGE';

/** The one error class of `@glasshouse/witness`. Branch on `code`, never on the message. */
export class WitnessError extends CodedError<WitnessErrorCode> {}
