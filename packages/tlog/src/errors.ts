import { CodedError } from '@glasshouse/errors';
import type { MerkleErrorCode } from './proof.js';
import type { TileErrorCode } from './tiles.js';
import type { NoteErrorCode } from './note.js';
import type { CheckpointErrorCode } from './checkpoint.js';
import type { CosignatureErrorCode } from './cosignature.js';
import type { TlogProofErrorCode } from './tlogproof.js';
import type { PolicyErrorCode } from './policy.js';

/** Every code this package throws; each module owns its part of the union. */
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
