import { CodedError } from '@glasshouse/errors';

/** Codes thrown by the Merkle proof and compact-range code (see the package README). */
export type MerkleErrorCode =
  | 'INDEX_OUT_OF_RANGE'
  | 'SIZE_OUT_OF_RANGE'
  | 'HASH_WRONG_LENGTH'
  | 'PROOF_WRONG_LENGTH'
  | 'INCLUSION_PROOF_INVALID'
  | 'CONSISTENCY_PROOF_INVALID'
  | 'HASH_READER_MISMATCH'
  | 'COMPACT_STATE_INVALID';

/** Codes thrown by the tile and entry-bundle code (see the package README). */
export type TileErrorCode =
  | 'TILE_PATH_INVALID'
  | 'TILE_REF_INVALID'
  | 'TILE_NODE_OUT_OF_RANGE'
  | 'TILE_MISSING'
  | 'TILE_WRONG_SIZE'
  | 'BUNDLE_ENTRY_TOO_LARGE'
  | 'BUNDLE_TOO_MANY_ENTRIES'
  | 'BUNDLE_TRUNCATED';

export type NoteErrorCode =
  | 'NOTE_MALFORMED'
  | 'NOTE_TOO_LARGE'
  | 'NOTE_TOO_MANY_SIGNATURES'
  | 'NOTE_SIGNATURE_INVALID'
  | 'NOTE_NO_VERIFIED_SIGNATURE'
  | 'NOTE_VERIFIER_AMBIGUOUS'
  | 'NOTE_SIGNER_INVALID'
  | 'NOTE_LIMIT_INVALID'
  | 'KEY_MALFORMED'
  | 'KEY_NAME_INVALID'
  | 'KEY_ID_MISMATCH'
  | 'KEY_UNSUPPORTED_TYPE';

export type CheckpointErrorCode =
  | 'CHECKPOINT_MALFORMED'
  | 'CHECKPOINT_SIZE_INVALID'
  | 'CHECKPOINT_ROOT_INVALID'
  | 'CHECKPOINT_ORIGIN_MISMATCH';

export type CosignatureErrorCode =
  | 'COSIGNATURE_MALFORMED'
  | 'COSIGNATURE_INVALID'
  | 'COSIGNATURE_TIMESTAMP_INVALID'
  | 'COSIGNATURE_FROM_FUTURE';

export type TlogProofErrorCode =
  | 'TLOGPROOF_TOO_LARGE'
  | 'TLOGPROOF_NOT_UTF8'
  | 'TLOGPROOF_BAD_HEADER'
  | 'TLOGPROOF_BAD_EXTRA'
  | 'TLOGPROOF_BAD_INDEX'
  | 'TLOGPROOF_BAD_HASH'
  | 'TLOGPROOF_PROOF_TOO_LONG'
  | 'TLOGPROOF_MISSING_CHECKPOINT'
  | 'TLOGPROOF_INDEX_OUT_OF_RANGE'
  | 'TLOGPROOF_INCLUSION_INVALID';

export type PolicyErrorCode =
  | 'POLICY_TOO_LARGE'
  | 'POLICY_BAD_CHARACTER'
  | 'POLICY_UNKNOWN_KEYWORD'
  | 'POLICY_MALFORMED_LINE'
  | 'POLICY_BAD_KEY'
  | 'POLICY_DUPLICATE_KEY'
  | 'POLICY_DUPLICATE_NAME'
  | 'POLICY_RESERVED_NAME'
  | 'POLICY_UNDEFINED_NAME'
  | 'POLICY_DUPLICATE_MEMBER'
  | 'POLICY_BAD_THRESHOLD'
  | 'POLICY_QUORUM_MISSING'
  | 'POLICY_QUORUM_DUPLICATE'
  | 'POLICY_NO_LOG_SIGNATURE'
  | 'POLICY_ORIGIN_MISMATCH'
  | 'POLICY_QUORUM_NOT_MET';

/** Every code this package throws. */
export type TlogErrorCode =
  | MerkleErrorCode
  | TileErrorCode
  | NoteErrorCode
  | CheckpointErrorCode
  | CosignatureErrorCode
  | TlogProofErrorCode
  | PolicyErrorCode;

/** The one error class of `@glasshouse/tlog`. Branch on `code`, never on the message. */
export class TlogError extends CodedError<TlogErrorCode> {}
