import { CodedError } from '@glasshouse/errors';

/** Every code `@glasshouse/db` throws (documented in its README). */
export type DbErrorCode = 'DB_SCHEMA_NEWER' | 'DB_COMMIT_NOT_DURABLE' | 'DB_SCHEMA_NAME_INVALID';

export class DbError extends CodedError<DbErrorCode> {}
