import { TlogError, type TlogErrorCode } from '../src/errors.js';

/**
 * Runs `run` and returns the code of the TlogError it threw, or 'accepted'
 * when it returned. Any other exception is a bug and propagates, so a test
 * asserting a code fails on crashes as well as on wrong codes.
 */
export function codeOf(run: () => unknown): TlogErrorCode | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (err) {
    if (err instanceof TlogError) return err.code;
    throw err;
  }
}
