/**
 * Test helpers shared by every package: what a call or a promise ends with,
 * as an error code, so tests assert on codes rather than messages. An error
 * without a code is rethrown (it is a bug, not a refusal).
 */
import { CodedError } from '../src/index.js';

/** The code `run` throws, or 'accepted' when it returns. */
export function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof CodedError) return (err as CodedError).code;
    throw err;
  }
  return 'accepted';
}

/** The code `promise` (or the one `run` returns) rejects with, or 'accepted' when it resolves. */
export async function rejectionCode(
  promise: Promise<unknown> | (() => Promise<unknown>),
): Promise<string> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    if (err instanceof CodedError) return (err as CodedError).code;
    throw err;
  }
  return 'accepted';
}
