import { CodedError } from '@glasshouse/errors';

/** The code a promise rejects with; fails the test when it resolves or throws uncoded. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CodedError) return (err as CodedError).code;
    throw err;
  }
  throw new Error('expected a coded error');
}
