import { CodedError } from '@glasshouse/errors';
import type { KeyErrorCode } from './keys.js';
import type { CanonicalErrorCode } from './canonical.js';
import type { EnvelopeErrorCode } from './dsse.js';
import type { StatementErrorCode } from './statement.js';
import type { PredicateErrorCode } from './slsa.js';
import type { LegacyErrorCode } from './legacy.js';

/** Every code this package throws; each module owns its part of the union. */
export type AttestErrorCode =
  | KeyErrorCode
  | CanonicalErrorCode
  | EnvelopeErrorCode
  | StatementErrorCode
  | PredicateErrorCode
  | LegacyErrorCode;

/** The one error class of `@glasshouse/attest`. Branch on `code`, never on the message. */
export class AttestError extends CodedError<AttestErrorCode> {}
