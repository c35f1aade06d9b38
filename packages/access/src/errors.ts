import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/access` throws (documented in the package README).
 * Each part of the package keeps its codes in its own group; add new codes to
 * the group of the part that throws them.
 */
export type AccessErrorCode =
  // shared
  'BAD_REQUEST' | 'CONFIG_INVALID' | 'CLOSED';

/** The one error class of `@glasshouse/access`. Branch on `code`, never on the message. */
export class AccessError extends CodedError<AccessErrorCode> {}
