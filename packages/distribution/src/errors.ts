import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/distribution` throws. Callers branch on these,
 * never on messages; the README lists what each one means.
 */
export type DistributionErrorCode = 'REPO_NOT_INITIALIZED';

/** The one error class of `@glasshouse/distribution`. */
export class DistributionError extends CodedError<DistributionErrorCode> {}
