import { CodedError } from '@glasshouse/errors';

/**
 * Every code this package throws. The `AUTH_*` codes are the refusals a
 * server answers with (the README maps each to its HTTP status); `SF_*` are
 * structured-field parse failures, which the verifier reports as
 * `AUTH_SIGNATURE_MALFORMED` with the parse error as the cause.
 */
export type HttpSigErrorCode =
  // RFC 8941 / RFC 9651 structured fields
  | 'SF_MALFORMED'
  | 'SF_TOO_LARGE'
  // RFC 9421: the signature itself
  | 'AUTH_SIGNATURE_MISSING'
  | 'AUTH_SIGNATURE_MALFORMED'
  | 'AUTH_ALGORITHM_UNSUPPORTED'
  | 'AUTH_COMPONENTS_INCOMPLETE'
  | 'AUTH_COMPONENT_UNSUPPORTED'
  | 'AUTH_COMPONENT_MISSING'
  | 'AUTH_SIGNATURE_STALE'
  | 'AUTH_KEY_UNKNOWN'
  | 'AUTH_SIGNATURE_INVALID'
  // RFC 9530: the body
  | 'AUTH_DIGEST_MALFORMED'
  | 'AUTH_DIGEST_MISMATCH'
  // policy
  | 'AUTH_KEY_NOT_ALLOWED'
  | 'AUTH_SIGNATURE_REPLAYED'
  | 'AUTH_REPLAY_CACHE_FULL'
  | 'RATE_LIMITED'
  // configuration and the signing client
  | 'AUTH_KEY_INVALID'
  | 'AUTH_OPTION_INVALID'
  | 'AUTH_BODY_UNSUPPORTED';

/** The one error class of `@glasshouse/httpsig`. Branch on `code`, never on the message. */
export class HttpSigError extends CodedError<HttpSigErrorCode> {}
