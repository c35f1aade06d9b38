import { CodedError } from '@glasshouse/errors';

/** Every code `@glasshouse/http` throws (documented in its README). */
export type HttpErrorCode = 'BODY_TOO_LARGE';

export class HttpError extends CodedError<HttpErrorCode> {}
